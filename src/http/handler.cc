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

}  // namespace kumo::http
