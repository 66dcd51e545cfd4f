// Health, metrics, usage and logs.
#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "api/errors.h"
#include "api/log_reader.h"
#include "api/routes.h"

namespace kumo::api {
namespace {

using nlohmann::json;

// An integer query parameter, or `fallback` when absent; kInvalidArgument naming the
// parameter when it is not a whole number (all of it: "12abc" too).
Result<int64_t> query_int(const http::Request& req, std::string_view key, int64_t fallback) {
  std::string text = req.query_param(key);
  if (text.empty()) return fallback;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("query parameter {} must be a whole number, got '{}'", key,
                                  text.substr(0, 40)));
  }
  return v;
}

// Follows the log on a thread of its own until the client goes away.
void follow_log(std::string path, uint64_t offset, std::shared_ptr<http::Responder> res) {
  std::thread([path = std::move(path), offset, res]() mutable {
    while (!res->closed()) {
      std::string more = read_log_from(path, offset);
      if (!more.empty()) res->write_chunk(std::move(more));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }).detach();
}

void logs(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  auto caller = auth::admit(deps.access, req, auth::Action::kRead,
                            auth::Resource::function(req.params["name"]), *res);
  if (!caller) return;
  const std::string name = auth::qualify(*caller, req.params["name"]);
  if (!deps.functions.find(name)) {
    return res->send(error_reply(make_error(
        ErrorCode::kNotFound,
        fmt::format("function '{}' not found; `kumo ls` lists the deployed ones",
                    req.params["name"].substr(0, 64)))));
  }
  auto lines = query_int(req, "tail", 100);
  if (!lines) return res->send(error_reply(lines.error()));
  auto follow = query_int(req, "follow", 0);
  if (!follow) return res->send(error_reply(follow.error()));
  std::string path = deps.functions.log_path(name);
  LogTail tail = read_log_tail(path, static_cast<int>(*lines));
  if (*follow == 0) {
    return res->send(http::Response{200, {{"content-type", "text/plain; charset=utf-8"}},
                                    std::move(tail.text)});
  }
  res->start_stream(200, {{"content-type", "text/plain; charset=utf-8"}});
  if (!tail.text.empty()) res->write_chunk(std::move(tail.text));
  follow_log(std::move(path), tail.end, res);
}

// A tenant's usage covers its own functions, by their plain names; the operator's covers
// every tenant, with a total per tenant, or one tenant's with ?tenant=NAME.
void usage(ApiDeps& deps, const auth::Caller& caller, http::Request&& req,
           const std::shared_ptr<http::Responder>& res) {
  auto since = query_int(req, "since_us", 0);
  if (!since) return res->send(error_reply(since.error()));
  std::string tenant = caller.is_operator() ? req.query_param("tenant") : caller.tenant;
  metering::UsageStore::FunctionFilter include;
  if (!tenant.empty()) {
    include = [tenant](std::string_view fn) { return auth::tenant_of(fn) == tenant; };
  }
  auto report = deps.usage.report(*since, deps.prices, include);
  if (!report) return res->send(error_reply(report.error()));
  json body = metering::to_json(*report, deps.prices);
  if (!caller.is_operator()) {
    body.erase("tenants");
    for (json& f : body["functions"]) {
      f["function"] = std::string(auth::local_name(f["function"].get<std::string>()));
    }
  }
  res->send(http::json_response(200, body));
}

}  // namespace

void add_ops_routes(http::Router& router, ApiDeps& deps) {
  router.add("GET", "/healthz", [](http::Request&&, std::shared_ptr<http::Responder> res) {
    res->send(http::json_response(200, {{"status", "ok"}}));
  });
  router.add("GET", "/metrics", [&deps](http::Request&& req,
                                        std::shared_ptr<http::Responder> res) {
    // Metrics name every tenant's functions: the operator's alone.
    auto caller = auth::admit(deps.access, req, auth::Action::kRead, auth::Resource::server(), *res);
    if (!caller) return;
    if (!caller->is_operator()) {
      return res->send(auth::refusal(make_error(ErrorCode::kPermissionDenied,
                                                "metrics are the operator's; this key is a tenant's")));
    }
    res->send(http::Response{200,
                             {{"content-type", metering::Metrics::kContentType}},
                             deps.metrics.render(deps.functions.pool_stats())});
  });
  router.add("GET", "/api/v1/usage",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               auto caller = auth::admit(deps.access, req, auth::Action::kRead,
                                         auth::Resource::function(""), *res);
               if (!caller) return;
               usage(deps, *caller, std::move(req), res);
             });
  router.add("GET", "/api/v1/functions/{name}/logs",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               logs(deps, std::move(req), res);
             });
}

}  // namespace kumo::api
