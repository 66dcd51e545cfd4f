#include "api/http_event.h"

#include <openssl/evp.h>

#include "common/json.h"
#include "http/types.h"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace kumo::api {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_text(std::string_view content_type) {
  std::string ct = lower(std::string(content_type));
  for (const char* t : {"text/", "json", "xml", "x-www-form-urlencoded", "javascript"}) {
    if (ct.find(t) != std::string::npos) return true;
  }
  return ct.empty();
}

// Repeated parameters are joined with commas, as API Gateway does.
json query_parameters(std::string_view query) {
  json params = json::object();
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = http::url_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? "" : http::url_decode(pair.substr(eq + 1), true);
    if (params.contains(key)) {
      params[key] = params[key].get<std::string>() + "," + value;
    } else {
      params[key] = value;
    }
  }
  return params;
}

std::string clf_time(int64_t epoch_ms) {
  std::time_t t = epoch_ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return buf;
}

}  // namespace

std::string make_http_event(const HttpEventInput& in) {
  json headers = json::object();
  json cookies = json::array();
  std::string content_type;
  std::string user_agent;
  for (const auto& [name, value] : in.headers) {
    std::string key = lower(name);
    if (key == "cookie") {
      cookies.push_back(value);
      continue;
    }
    if (key == "content-type") content_type = value;
    if (key == "user-agent") user_agent = value;
    headers[key] = headers.contains(key) ? headers[key].get<std::string>() + "," + value : value;
  }
  bool binary = !in.body.empty() && !is_text(content_type);
  json event = {
      {"version", "2.0"},
      {"routeKey", "$default"},
      {"rawPath", in.path},
      {"rawQueryString", in.query},
      {"headers", headers},
      {"requestContext",
       {{"accountId", "kumo"},
        {"apiId", "kumo"},
        {"domainName", headers.value("host", "localhost")},
        {"http",
         {{"method", in.method},
          {"path", in.path},
          {"protocol", "HTTP/1.1"},
          {"sourceIp", in.source_ip},
          {"userAgent", user_agent}}},
        {"requestId", in.request_id},
        {"routeKey", "$default"},
        {"stage", "$default"},
        {"time", clf_time(in.time_epoch_ms)},
        {"timeEpoch", in.time_epoch_ms}}},
      {"pathParameters", {{"proxy", in.path.size() > 1 ? in.path.substr(1) : ""}}},
      {"isBase64Encoded", binary},
  };
  if (!cookies.empty()) event["cookies"] = cookies;
  if (!in.query.empty()) event["queryStringParameters"] = query_parameters(in.query);
  if (!in.body.empty()) event["body"] = binary ? base64_encode(in.body) : in.body;
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

HttpReply read_proxy_response(std::string_view result, std::string_view content_type) {
  HttpReply reply;
  std::string ct = content_type.empty() ? "application/json" : std::string(content_type);
  if (ct != "application/json") {
    reply.headers.emplace_back("content-type", ct);
    reply.body = std::string(result);
    return reply;
  }
  // Bounded: a proxy response's body is dumped back to text below, which recurses.
  auto parsed = parse_json(result);
  json j = parsed ? std::move(*parsed) : json();
  if (!j.is_object() || !j.contains("statusCode") || !j["statusCode"].is_number_integer()) {
    reply.headers.emplace_back("content-type", "application/json");
    reply.body = std::string(result);
    return reply;
  }
  reply.status = j["statusCode"].get<int>();
  if (reply.status < 100 || reply.status > 599) reply.status = 502;
  bool has_type = false;
  if (j.contains("headers") && j["headers"].is_object()) {
    for (const auto& [name, value] : j["headers"].items()) {
      std::string v = value.is_string() ? value.get<std::string>() : value.dump();
      has_type = has_type || lower(name) == "content-type";
      reply.headers.emplace_back(name, v);
    }
  }
  if (j.contains("cookies") && j["cookies"].is_array()) {
    for (const auto& c : j["cookies"]) {
      if (c.is_string()) reply.headers.emplace_back("set-cookie", c.get<std::string>());
    }
  }
  if (j.contains("body")) {
    const json& b = j["body"];
    reply.body = b.is_string() ? b.get<std::string>() : b.dump();
    if (j.value("isBase64Encoded", false)) reply.body = base64_decode(reply.body);
  }
  if (!has_type) reply.headers.emplace_back("content-type", "application/json");
  return reply;
}

std::string base64_decode(std::string_view in) {
  std::string out(3 * (in.size() / 4) + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return {};
  // EVP_DecodeBlock counts the padding bytes as output; drop them.
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(n - pad);
  return out;
}

}  // namespace kumo::api
