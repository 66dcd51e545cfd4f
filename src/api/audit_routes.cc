// GET /api/v1/audit?since_us=T&limit=N: the audit log (auth/audit.h), for the admin grant.
// The operator reads every record; a tenant's admin, the records of its own tenant's keys.
#include <fmt/format.h>

#include <charconv>

#include "api/errors.h"
#include "api/routes.h"

namespace kumo::api {
namespace {

using nlohmann::json;

// A whole-number query parameter, or `fallback` when absent.
Result<int64_t> number_param(const http::Request& req, std::string_view name, int64_t fallback) {
  std::string text = req.query_param(name);
  if (text.empty()) return fallback;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("query parameter {} must be a whole number, got '{}'", name,
                                  text.substr(0, 40)));
  }
  return v;
}

json record_json(const auth::AuditRecord& r) {
  return {{"seq", r.seq},       {"time_us", r.time_us}, {"key_id", r.key_id},
          {"tenant", r.tenant}, {"action", r.action},   {"target", r.target},
          {"remote", r.remote}, {"status", r.status},   {"detail", r.detail}};
}

void read_audit(ApiDeps& deps, const http::Request& req, http::Responder& out) {
  auto caller = auth::admit(deps.access, req, auth::Action::kAdmin, auth::Resource::server(), out);
  if (!caller) return;
  if (deps.audit == nullptr) {
    return out.send(
        error_reply(make_error(ErrorCode::kUnavailable, "this server keeps no audit log")));
  }
  auth::AuditQuery query;
  auto since = number_param(req, "since_us", 0);
  if (!since) return out.send(error_reply(since.error()));
  auto limit = number_param(req, "limit", 100);
  if (!limit) return out.send(error_reply(limit.error()));
  query.since_us = *since;
  query.limit = *limit;
  if (!caller->is_operator()) query.tenant = caller->tenant;
  auto records = deps.audit->read(query);
  if (!records) return out.send(error_reply(records.error()));
  json items = json::array();
  for (const auth::AuditRecord& r : *records) items.push_back(record_json(r));
  out.send(http::json_response(200, {{"records", std::move(items)}}));
}

}  // namespace

void add_audit_routes(http::Router& router, ApiDeps& deps) {
  router.add("GET", "/api/v1/audit",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               read_audit(deps, req, *res);
             });
}

}  // namespace kumo::api
