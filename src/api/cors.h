// CORS for HTTP triggers (/fn/NAME/...), as Lambda function URLs do it: a function's spec
// says which origins, methods and headers a browser may use (registry::Cors); Kumo answers
// the browser's preflight itself, before any check of a key and without invoking the
// function, and adds the Access-Control-* headers to the function's replies to an allowed
// origin. Origins compare exactly (scheme, host and port as the browser sends them);
// methods and header names without regard to case. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "http/handler.h"
#include "registry/spec_access.h"

namespace kumo::api {

// True for a CORS preflight: OPTIONS with Origin and Access-Control-Request-Method.
bool is_preflight(const http::Request& req);

// The answer to a preflight: 204 with Access-Control-Allow-{Origin, Methods, Headers,
// Credentials} and Max-Age when the origin, the method and every requested header are
// allowed; 403 with the JSON error body naming what is not.
http::Response preflight_reply(const registry::Cors& cors, const http::Request& req);

// The headers to add to a reply to a request from `origin`: Access-Control-Allow-Origin
// (and -Credentials, -Expose-Headers) when it is allowed, and `Vary: Origin` whenever the
// answer depends on it. Empty without an Origin.
http::Headers reply_headers(const registry::Cors& cors, std::string_view origin);

}  // namespace kumo::api
