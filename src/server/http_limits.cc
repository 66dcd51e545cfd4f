#include "server/http_limits.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/units.h"

namespace kumo::server {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMinTimeout{1};
constexpr milliseconds kMaxTimeout{3'600'000};
constexpr int64_t kMaxConnections = 1'000'000;
constexpr int64_t kMaxBufferedMb = int64_t{1} << 20;  // 1 TiB

Result<milliseconds> timeout_value(std::string_view name, std::string_view text) {
  auto d = parse_duration(text);
  if (!d) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", name, d.error().message));
  }
  if (*d < kMinTimeout || *d > kMaxTimeout) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: must be 1ms..1h, got {}", name, text));
  }
  return *d;
}

Result<int64_t> int_value(std::string_view name, std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: must be a whole number, got '{}'", name, text));
  }
  if (v < lo || v > hi) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: must be {}..{}, got {}", name, lo, hi, v));
  }
  return v;
}

// Sets the field `key` names from its text; kInvalidArgument for a bad value or unknown key.
Result<void> set_limit(http::ConnectionLimits& limits, std::string_view key, std::string_view label,
                       std::string_view text) {
  if (key == "header_timeout" || key == "idle_timeout" || key == "body_timeout" ||
      key == "send_timeout") {
    auto d = timeout_value(label, text);
    if (!d) return d.error();
    if (key == "header_timeout") limits.header_timeout = *d;
    if (key == "idle_timeout") limits.idle_timeout = *d;
    if (key == "body_timeout") limits.body_timeout = *d;
    if (key == "send_timeout") limits.send_timeout = *d;
    return {};
  }
  if (key == "max_connections") {
    auto n = int_value(label, text, 0, kMaxConnections);
    if (!n) return n.error();
    limits.max_connections = static_cast<int>(*n);
    return {};
  }
  if (key == "max_buffered_body_mb") {
    auto n = int_value(label, text, 1, kMaxBufferedMb);
    if (!n) return n.error();
    limits.max_buffered_body_bytes = static_cast<uint64_t>(*n) << 20;
    return {};
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("{}: unknown key (known: header_timeout, idle_timeout, "
                                "body_timeout, send_timeout, max_connections, "
                                "max_buffered_body_mb)",
                                label));
}

struct Flag {
  const char* name;
  const char* key;
  const char* help;
};
constexpr Flag kFlags[] = {
    {"--http-header-timeout", "header_timeout",
     "close a connection whose request header is not complete in this time (10s)"},
    {"--http-idle-timeout", "idle_timeout",
     "close a kept-alive connection idle between requests this long (60s)"},
    {"--http-body-timeout", "body_timeout",
     "close a connection whose request body pauses this long (30s)"},
    {"--http-send-timeout", "send_timeout",
     "close a connection whose client takes longer than this to take a write (60s)"},
    {"--max-connections", "max_connections",
     "open connections at once, beyond which 503 (0: half of ulimit -n, at most 10000)"},
    {"--max-buffered-body-mb", "max_buffered_body_mb",
     "MB of request bodies held in memory at once, beyond which 503 (1024)"},
};

}  // namespace

void add_http_limit_flags(CLI::App& serve, http::ConnectionLimits& limits) {
  for (const Flag& flag : kFlags) {
    serve.add_option_function<std::string>(
        flag.name,
        [&limits, flag](const std::string& text) {
          if (auto set = set_limit(limits, flag.key, flag.name, text); !set) {
            throw CLI::ValidationError(set.error().message);
          }
        },
        flag.help);
  }
}

Result<http::ConnectionLimits> read_http_limits(const YAML::Node& section,
                                                http::ConnectionLimits base) {
  if (section.IsNull()) return base;
  if (!section.IsMap()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http: expected a map, e.g. {header_timeout: 10s, max_connections: 5000}");
  }
  for (const auto& kv : section) {
    std::string key = kv.first.Scalar();
    if (!kv.second.IsScalar()) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("http.{}: expected a value", key));
    }
    if (auto set = set_limit(base, key, "http." + key, kv.second.Scalar()); !set) {
      return set.error();
    }
  }
  return base;
}

}  // namespace kumo::server
