#include "http/handler.h"

#include <nlohmann/json.hpp>

namespace kumo::http {

std::string Request::header(std::string_view name) const { return find_header(headers, name); }

std::string Request::query_param(std::string_view name) const {
  auto params = parse_query(query);
  auto it = params.find(std::string(name));
  return it == params.end() ? std::string() : it->second;
}

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  // Replace invalid UTF-8 rather than throw: a handler's error must never escape as one.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response error_response(int status, std::string_view type, std::string_view message,
                        std::string_view request_id) {
  nlohmann::json error = {{"type", type}, {"message", message}};
  if (!request_id.empty()) error["request_id"] = request_id;
  return json_response(status, nlohmann::json{{"error", std::move(error)}});
}

int status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kThrottled: return 429;
    case ErrorCode::kFunctionFailed: return 502;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

Response error_response(const Error& error, std::string_view request_id) {
  return error_response(status_of(error.code), error_code_name(error.code), error.message,
                        request_id);
}

}  // namespace kumo::http
