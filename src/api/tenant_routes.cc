// /api/v1/tenants: the operator makes, lists and removes tenants (auth/tenants.h). A
// tenant's own keys never see this list, whatever their grants.
#include <fmt/format.h>

#include "api/errors.h"
#include "api/routes.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"

namespace kumo::api {
namespace {

using nlohmann::json;
using ResponderPtr = std::shared_ptr<http::Responder>;

// The operator's admin, or nullopt after answering 401/403. A change (`audit_action` set)
// is recorded in the audit log, refusals included.
std::optional<auth::Caller> admit_operator(const ApiDeps& deps, const http::Request& req,
                                           std::string_view audit_action, http::Responder& out) {
  auto caller = audit_action.empty()
                    ? auth::admit(deps.access, req, auth::Action::kAdmin,
                                  auth::Resource::server(), out)
                    : auth::admit_change(deps.access, deps.audit, req, auth::Action::kAdmin,
                                         auth::Resource::server(), audit_action, out);
  if (caller && !caller->is_operator()) {
    Error refused = make_error(ErrorCode::kPermissionDenied,
                               fmt::format("key {} is a tenant's; tenants are the operator's to "
                                           "manage",
                                           caller->who()));
    if (audit_action.empty()) {
      out.send(auth::refusal(refused));
    } else {
      reply_change_error(deps, *caller, audit_action, "", req, refused, out);
    }
    return std::nullopt;
  }
  return caller;
}

// How many deployed functions each tenant owns.
std::map<std::string, int> functions_by_tenant(ApiDeps& deps) {
  std::map<std::string, int> out;
  for (const auto& fv : deps.functions.list()) ++out[auth::tenant_of(fv.spec.name)];
  return out;
}

constexpr std::string_view kCreate = "tenant.create";
constexpr std::string_view kRemove = "tenant.remove";

void create(ApiDeps& deps, const auth::Caller& caller, const http::Request& req,
            http::Responder& out) {
  auto body = parse_json(req.body);
  if (!body || !body->is_object() || !body->contains("name") || !(*body)["name"].is_string()) {
    Error bad = make_error(ErrorCode::kInvalidArgument,
                           "the body must be a JSON object {\"name\": \"...\"}");
    return reply_change_error(deps, caller, kCreate, "", req, bad, out);
  }
  const std::string name = (*body)["name"].get<std::string>();
  auto made = deps.tenants->create(name, wall_micros());
  if (!made) return reply_change_error(deps, caller, kCreate, name, req, made.error(), out);
  spdlog::info("tenant {} created", made->name);
  record_change(deps, caller, kCreate, made->name, req, 201);
  out.send(http::json_response(201, {{"name", made->name}, {"created_us", made->created_us}}));
}

void list(ApiDeps& deps, http::Responder& out) {
  auto tenants = deps.tenants->list();
  if (!tenants) return out.send(error_reply(tenants.error()));
  auto functions = functions_by_tenant(deps);
  json list = json::array();
  for (const auth::Tenant& t : *tenants) {
    list.push_back(
        {{"name", t.name}, {"created_us", t.created_us}, {"functions", functions[t.name]}});
  }
  out.send(http::json_response(200, {{"tenants", std::move(list)}}));
}

// Refused while the tenant owns functions (they would run on with no tenant to answer for
// them); its keys are revoked. Its objects, tables and topics stay, under its names.
void remove(ApiDeps& deps, const auth::Caller& caller, const http::Request& req,
            http::Responder& out) {
  const std::string& name = req.params.at("name");
  auto fail = [&](const Error& e) { reply_change_error(deps, caller, kRemove, name, req, e, out); };
  if (name == auth::kDefaultTenant) {  // the store says why it stays
    return fail(deps.tenants->remove(name).error());
  }
  if (int owned = functions_by_tenant(deps)[name]; owned > 0) {
    return fail(make_error(
        ErrorCode::kConflict,
        fmt::format("tenant '{}' still has {} function(s); remove them first (`kumo ls` with "
                    "the operator's key lists them as {}~NAME)",
                    name, owned, name)));
  }
  if (auto removed = deps.tenants->remove(name); !removed) {
    return fail(removed.error());
  }
  int revoked = 0;
  if (auth::KeyStore* keys = deps.access.keys()) {
    auto records = keys->list(name);
    if (!records) return fail(records.error());
    for (const auth::KeyRecord& key : *records) {
      if (key.revoked_us) continue;
      if (auto r = keys->revoke(key.id, wall_micros()); !r) return fail(r.error());
      ++revoked;
    }
  }
  spdlog::info("tenant {} removed; {} key(s) revoked", name, revoked);
  record_change(deps, caller, kRemove, name, req, 200);
  out.send(
      http::json_response(200, {{"name", name}, {"deleted", true}, {"revoked_keys", revoked}}));
}

}  // namespace

void add_tenant_routes(http::Router& router, ApiDeps& deps) {
  if (deps.tenants == nullptr) return;
  router.add("POST", "/api/v1/tenants", [&deps](http::Request&& req, ResponderPtr res) {
    if (auto caller = admit_operator(deps, req, kCreate, *res)) create(deps, *caller, req, *res);
  });
  router.add("GET", "/api/v1/tenants", [&deps](http::Request&& req, ResponderPtr res) {
    if (admit_operator(deps, req, "", *res)) list(deps, *res);
  });
  router.add("DELETE", "/api/v1/tenants/{name}", [&deps](http::Request&& req, ResponderPtr res) {
    if (auto caller = admit_operator(deps, req, kRemove, *res)) remove(deps, *caller, req, *res);
  });
}

}  // namespace kumo::api
