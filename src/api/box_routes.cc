#include "api/box_routes.h"

#include <array>

#include <fmt/format.h>

namespace kumo::api {

bool reachable_from_a_box(std::string_view method, std::string_view pattern) {
  static constexpr std::array<std::string_view, 6> kPrefixes = {
      "/s3", "/api/v1/tables", "/api/v1/topics/", "/fn/", "/v2/models/", "/api/v1/invocations/"};
  for (std::string_view prefix : kPrefixes) {
    if (pattern.starts_with(prefix)) return true;
  }
  if (method == "POST" && (pattern == "/api/v1/events" ||
                           pattern == "/api/v1/functions/{name}/invoke")) {
    return true;
  }
  return method == "GET" && pattern == "/healthz";
}

http::Router box_router(const http::Router& full) {
  return full.restricted(reachable_from_a_box, [](http::Request&& req,
                                                  std::shared_ptr<http::Responder> res) {
    res->send(http::error_response(
        403, "forbidden",
        fmt::format("a function reaches only Kumo's data APIs (S3, tables, topics, events, "
                    "invoke) from its box; {} {} is not one of them",
                    req.method, req.path)));
  });
}

}  // namespace kumo::api
