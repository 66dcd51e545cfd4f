#include "api/cors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace kumo::api {
namespace {

bool has(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// "*" matches any origin, but a reply that allows credentials must name the origin.
bool origin_allowed(const registry::Cors& cors, std::string_view origin) {
  return !origin.empty() && (has(cors.allow_origins, "*") || has(cors.allow_origins, origin));
}

std::string allow_origin_value(const registry::Cors& cors, std::string_view origin) {
  bool any = has(cors.allow_origins, "*") && !cors.allow_credentials;
  return any ? "*" : std::string(origin);
}

// Access-Control-Request-Headers: "content-type, x-api-key" split and lower-cased.
std::vector<std::string> requested_headers(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.push_back(lower(item));
    start = comma + 1;
  }
  return out;
}

http::Response refuse(std::string message) {
  http::Response r = http::error_response(make_error(ErrorCode::kPermissionDenied, message));
  r.headers.emplace_back("vary", "Origin");
  return r;
}

// What a message may quote of a header from outside.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out;
}

}  // namespace

bool is_preflight(const http::Request& req) {
  return req.method == "OPTIONS" && !req.header("Origin").empty() &&
         !req.header("Access-Control-Request-Method").empty();
}

http::Response preflight_reply(const registry::Cors& cors, const http::Request& req) {
  std::string origin = req.header("Origin");
  if (!origin_allowed(cors, origin)) {
    return refuse(fmt::format("CORS: the origin '{}' is not allowed", shown(origin)));
  }
  std::string method = upper(req.header("Access-Control-Request-Method"));
  if (!has(cors.allow_methods, "*") && !has(cors.allow_methods, method)) {
    return refuse(fmt::format("CORS: the method '{}' is not allowed", shown(method)));
  }
  std::vector<std::string> asked = requested_headers(req.header("Access-Control-Request-Headers"));
  if (!has(cors.allow_headers, "*")) {
    for (const std::string& h : asked) {
      if (!has(cors.allow_headers, h)) {
        return refuse(fmt::format("CORS: the header '{}' is not allowed", shown(h)));
      }
    }
  }
  http::Response r;
  r.status = 204;
  r.headers.emplace_back("access-control-allow-origin", allow_origin_value(cors, origin));
  r.headers.emplace_back("access-control-allow-methods", join(cors.allow_methods));
  if (!cors.allow_headers.empty()) {
    // "*" is taken literally by browsers for requests with credentials: echo what was asked.
    bool echo = has(cors.allow_headers, "*") && cors.allow_credentials;
    r.headers.emplace_back("access-control-allow-headers",
                           echo ? join(asked) : join(cors.allow_headers));
  }
  if (cors.allow_credentials) r.headers.emplace_back("access-control-allow-credentials", "true");
  if (cors.max_age_s > 0) {
    r.headers.emplace_back("access-control-max-age", std::to_string(cors.max_age_s));
  }
  r.headers.emplace_back("vary", "Origin");
  return r;
}

http::Headers reply_headers(const registry::Cors& cors, std::string_view origin) {
  http::Headers out;
  if (origin.empty()) return out;
  out.emplace_back("vary", "Origin");
  if (!origin_allowed(cors, origin)) return out;
  out.emplace_back("access-control-allow-origin", allow_origin_value(cors, origin));
  if (cors.allow_credentials) out.emplace_back("access-control-allow-credentials", "true");
  if (!cors.expose_headers.empty()) {
    out.emplace_back("access-control-expose-headers", join(cors.expose_headers));
  }
  return out;
}

}  // namespace kumo::api
