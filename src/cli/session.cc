#include "cli/session.h"

#include <fmt/format.h>

#include <CLI/Error.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/body_gate.h"
#include "common/runtime_file.h"
#include "cli/output.h"

namespace kumo::cli {
namespace {

std::string env_or(const char* name, std::string_view fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::string(fallback);
}

// The data directory the server on this port told local clients about (runtime_file.h).
std::string runtime_data_dir(int port) {
  auto dir = runtime_dir();
  if (!dir) return "";
  std::ifstream in(fmt::format("{}/server-{}.json", *dir, port));
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j.value("data_dir", "") : "";
}

// The operator's admin key that a local server wrote in its data directory: $KUMO_DATA's,
// else the one the server on that port announced, else ./.kumo's (`make run`'s default).
// Only for a server on this machine, so the key is never sent elsewhere; "" when there is
// none to read.
std::string local_admin_key(const http::Endpoint& endpoint) {
  const std::string& host = endpoint.host;
  if (host != "localhost" && host != "::1" && !host.starts_with("127.")) return "";
  for (const std::string& dir : {env_or("KUMO_DATA", ""), runtime_data_dir(endpoint.port),
                                 std::string("./.kumo")}) {
    if (dir.empty()) continue;
    std::ifstream in(dir + "/admin.key");
    std::string token;
    if (in && std::getline(in, token) && !token.empty()) return token;
  }
  return "";
}

bool is_success(int status) { return status >= 200 && status < 300; }

// The first line of a non-JSON body, trimmed to fit one terminal line.
std::string first_line(std::string_view body) {
  std::string_view line = body.substr(0, body.find('\n'));
  if (line.size() > 200) return std::string(line.substr(0, 200)) + "...";
  return std::string(line);
}

}  // namespace

void fail(int exit_code, std::string_view message) {
  std::fflush(stdout);
  std::cerr << Style::detect(2).red("error:") << " " << message << std::endl;
  throw CLI::RuntimeError(exit_code);
}

std::string error_message(int status, std::string_view body, std::string_view hint) {
  std::string message;
  try {
    auto j = nlohmann::json::parse(body);
    message = j.at("error").at("message").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    std::string start = first_line(body);
    message = start.empty() ? fmt::format("the server answered HTTP {}", status)
                            : fmt::format("the server answered HTTP {}: {}", status, start);
  }
  if (status == 404 && !hint.empty() && message.find(hint) == std::string::npos) {
    message += fmt::format("; {}", hint);
  }
  return message;
}

std::string url_escape(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto byte = static_cast<unsigned char>(ch);
    if (std::isalnum(byte) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

void print_line(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stdout);
  std::fflush(stdout);
}

nlohmann::json parse_reply(std::string_view body) {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    fail(kExitFailed,
         fmt::format("the server sent a reply that is not JSON: {}", first_line(body)));
  }
}

std::unique_ptr<Session> Session::open(const Options& options) {
  std::string url = options.url.empty() ? env_or("KUMO_URL", kDefaultUrl) : options.url;
  auto endpoint = http::parse_base_url(url);
  if (!endpoint) {
    fail(kExitUsage, fmt::format("bad server URL '{}': {}; write it like {}", url,
                                 endpoint.error().message, kDefaultUrl));
  }
  std::string key = env_or("KUMO_API_KEY", "");
  if (key.empty()) key = local_admin_key(*endpoint);
  return std::make_unique<Session>(url, *endpoint, std::move(key));
}

Session::Session(std::string url, http::Endpoint endpoint, std::string api_key)
    : url_(std::move(url)), api_key_(std::move(api_key)), client_(std::move(endpoint)) {}

http::Headers Session::with_auth(http::Headers headers) const {
  if (!api_key_.empty()) headers.emplace_back("Authorization", "Bearer " + api_key_);
  return headers;
}

void Session::fail_transport(const Error& error) const {
  switch (error.code) {
    case ErrorCode::kUnavailable:
      fail(kExitUnreachable,
           fmt::format("cannot reach Kumo at {}; start it with `kumo serve` (or set KUMO_URL)",
                       url_));
    case ErrorCode::kTimeout:
      fail(kExitFailed, fmt::format("Kumo at {} did not answer in time ({})", url_, error.message));
    default:
      fail(kExitFailed, fmt::format("request to Kumo at {} failed: {}", url_, error.message));
  }
}

void Session::check_status(int status, std::string_view body, std::string_view hint) const {
  if (is_success(status)) return;
  std::string message = error_message(status, body, hint);
  if (status == 401 && api_key_.empty()) {
    message += "; set KUMO_API_KEY (a local server's admin key is in its data directory's "
               "admin.key; set KUMO_DATA to find it)";
  }
  fail(kExitFailed, message);
}

http::ClientResponse Session::call(std::string_view method, std::string_view target,
                                   std::string_view body, http::Headers headers,
                                   std::chrono::milliseconds timeout,
                                   std::string_view not_found_hint) {
  auto reply = client_.request(method, target, body, with_auth(std::move(headers)), timeout);
  if (!reply) fail_transport(reply.error());
  check_status(reply->status, reply->body, not_found_hint);
  return std::move(*reply);
}

void Session::stream(std::string_view method, std::string_view target, std::string_view body,
                     http::Headers headers, std::chrono::milliseconds timeout,
                     std::string_view not_found_hint,
                     const std::function<void(std::string_view)>& out) {
  BodyGate gate(out);
  bool got_data = false;
  auto reply = client_.stream(
      method, target, body, with_auth(std::move(headers)),
      [&](std::string_view chunk) {
        got_data = true;
        gate.feed(chunk);
      },
      timeout);
  if (!reply && got_data && reply.error().code == ErrorCode::kUnavailable) {
    // The server was reached; pointing at `kumo serve` would mislead.
    fail(kExitFailed, fmt::format("the connection to Kumo at {} broke mid-reply: {}", url_,
                                  reply.error().message));
  }
  if (!reply) fail_transport(reply.error());
  std::string held = gate.finish(is_success(reply->status));
  check_status(reply->status, held, not_found_hint);
}

}  // namespace kumo::cli
