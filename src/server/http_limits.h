// The HTTP server's ConnectionLimits as `kumo serve` takes them: flags (--http-header-timeout
// 10s, --http-idle-timeout 60s, --http-body-timeout 30s, --http-send-timeout 60s,
// --max-connections N, --max-buffered-body-mb N) and the config file's `http:` section with the
// same names (header_timeout, idle_timeout, body_timeout, send_timeout, max_connections,
// max_buffered_body_mb).
// Both check the same ranges. Pure functions; thread-safe.
#pragma once

#include "common/result.h"
#include "http/server.h"

namespace CLI {
class App;
}
namespace YAML {
class Node;
}

namespace kumo::server {

// Adds the flags to `serve`; each one given overwrites its field of `limits` (which must
// outlive parsing). A bad value is a CLI::ValidationError naming the flag.
void add_http_limit_flags(CLI::App& serve, http::ConnectionLimits& limits);

// The `http:` section over `base`: kInvalidArgument naming the key for an unknown key or a
// value out of range ("http.header_timeout: must be 1ms..1h, got 0s").
Result<http::ConnectionLimits> read_http_limits(const YAML::Node& section,
                                                http::ConnectionLimits base);

}  // namespace kumo::server
