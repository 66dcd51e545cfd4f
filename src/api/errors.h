// Mapping of errors and function outcomes to HTTP responses. Pure; thread-safe.
#pragma once

#include <string_view>

#include "common/result.h"
#include "executor/instance.h"
#include "http/server.h"

namespace kumo::api {

// A JSON error response for `error`, tagged with the request id when there is one.
http::Response error_reply(const Error& error, std::string_view request_id = "");

// The response for a Reply whose outcome is not kOk (502, 504, 429 with a JSON error body).
http::Response failure_reply(const executor::Reply& reply, std::string_view function,
                             std::string_view request_id);

}  // namespace kumo::api
