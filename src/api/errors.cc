#include "api/errors.h"

#include <fmt/format.h>

namespace kumo::api {

http::Response error_reply(const Error& error, std::string_view request_id) {
  return http::error_response(error, request_id);
}

http::Response failure_reply(const executor::Reply& reply, std::string_view function,
                             std::string_view request_id) {
  using executor::Outcome;
  auto detail = [&] {
    if (reply.error_type.empty()) return reply.error_message;
    if (reply.error_message.empty()) return reply.error_type;
    return fmt::format("{}: {}", reply.error_type, reply.error_message);
  };
  switch (reply.outcome) {
    case Outcome::kOk:
    case Outcome::kError:
      if (reply.error_type == executor::kResultTooLarge) {
        return http::error_response(
            502, "result_too_large",
            fmt::format("function '{}': {}", function, reply.error_message), request_id);
      }
      return http::error_response(502, "function_error", detail(), request_id);
    case Outcome::kTimeout:
      return http::error_response(
          504, "timeout", fmt::format("function '{}': {}", function, reply.error_message),
          request_id);
    case Outcome::kCrash:
      return http::error_response(
          502, "function_crashed",
          fmt::format("function '{}' crashed: {}", function, reply.error_message), request_id);
    case Outcome::kOom:
      return http::error_response(
          502, "out_of_memory",
          fmt::format("function '{}' ran out of memory; raise `memory` in kumo.yaml", function),
          request_id);
    case Outcome::kInitError:
      return http::error_response(
          502, "init_error", fmt::format("function '{}' failed to start: {}", function, detail()),
          request_id);
    case Outcome::kThrottled:
      return http::error_response(
          429, "throttled",
          fmt::format("function '{}': no instance was free in time; {}", function,
                      reply.error_message.empty() ? "retry later" : reply.error_message),
          request_id);
  }
  return http::error_response(502, "function_error", detail(), request_id);
}

}  // namespace kumo::api
