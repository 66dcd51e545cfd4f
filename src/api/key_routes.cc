// API keys: POST and GET /api/v1/keys, GET and DELETE /api/v1/keys/{id}. Each needs the
// admin grant. The operator's admin manages every key; a tenant's admin manages its own
// tenant's keys only, and another tenant's key is "not found" to it. Creating and revoking
// are recorded in the audit log.
#include <fmt/format.h>

#include "api/errors.h"
#include "api/key_request.h"
#include "api/routes.h"
#include "common/clock.h"

namespace kumo::api {
namespace {

using nlohmann::json;

constexpr size_t kMaxKeyBody = 16 * 1024;

Result<auth::KeyStore*> key_store(const ApiDeps& deps) {
  if (deps.access.keys() == nullptr) {
    return make_error(ErrorCode::kConflict,
                      "this server runs with --auth none and has no keys; start it with "
                      "--auth keys (the default)");
  }
  return deps.access.keys();
}

// The key `id` if the caller may see it; another tenant's is "not found" to a tenant.
Result<auth::KeyRecord> visible_key(auth::KeyStore& keys, const auth::Caller& caller,
                                    std::string_view id) {
  auto key = keys.get(id);
  if (key && !may_manage(caller, key->tenant)) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("no key '{}'; `kumo keys ls` lists them", id.substr(0, 64)));
  }
  return key;
}

// Revoking the operator's last admin key in force would leave no one able to make keys.
Result<void> check_not_last_admin(auth::KeyStore& keys, const auth::KeyRecord& key,
                                  int64_t now_us) {
  auto in_force_admin = [now_us](const auth::KeyRecord& k) {
    return k.tenant.empty() && !k.revoked_us && (!k.expires_us || *k.expires_us > now_us) &&
           auth::allows(k.scopes, auth::Action::kAdmin, auth::Resource::server());
  };
  if (!in_force_admin(key)) return {};
  auto all = keys.list(std::string());
  if (!all) return all.error();
  for (const auth::KeyRecord& k : *all) {
    if (k.id != key.id && in_force_admin(k)) return {};
  }
  return make_error(ErrorCode::kConflict,
                    fmt::format("key {} is the operator's last admin key in force; create "
                                "another first (`kumo keys create NAME --scopes admin`)",
                                key.id));
}

// A key may belong only to a tenant the operator made (`kumo tenants create`), so that a
// typo does not open a namespace nobody manages.
Result<void> tenant_exists(const ApiDeps& deps, const std::string& tenant) {
  if (tenant.empty() || deps.tenants == nullptr) return {};
  auto exists = deps.tenants->exists(tenant);
  if (!exists) return exists.error();
  if (*exists) return {};
  return make_error(ErrorCode::kNotFound,
                    fmt::format("no tenant '{}'; the operator makes it first (`kumo tenants "
                                "create {}`)",
                                tenant, tenant));
}

void create_key(ApiDeps& deps, const http::Request& req, http::Responder& out) {
  constexpr std::string_view kAction = "key.create";
  auto caller = auth::admit_change(deps.access, deps.audit, req, auth::Action::kAdmin,
                                   auth::Resource::server(), kAction, out);
  if (!caller) return;
  auto keys = key_store(deps);
  if (!keys) return reply_change_error(deps, *caller, kAction, "", req, keys.error(), out);
  int64_t now = wall_micros();
  auto spec = parse_key_request(req.body, *caller, now);
  if (!spec) return reply_change_error(deps, *caller, kAction, "", req, spec.error(), out);
  if (auto ok = may_manage(*caller, spec->tenant); !ok) {
    return reply_change_error(deps, *caller, kAction, spec->name, req, ok.error(), out);
  }
  if (auto ok = tenant_exists(deps, spec->tenant); !ok) {
    return reply_change_error(deps, *caller, kAction, spec->name, req, ok.error(), out);
  }
  auto made = (*keys)->create(*spec, now);
  if (!made) return reply_change_error(deps, *caller, kAction, spec->name, req, made.error(), out);
  record_change(deps, *caller, kAction, made->record.id, req, 201);
  json body = key_json(made->record);
  body["token"] = made->token;
  http::Response r = http::json_response(201, body);
  r.headers.emplace_back("Cache-Control", "no-store");
  out.send(std::move(r));
}

void list_keys(ApiDeps& deps, const http::Request& req, http::Responder& out) {
  auto caller = auth::admit(deps.access, req, auth::Action::kAdmin, auth::Resource::server(), out);
  if (!caller) return;
  auto keys = key_store(deps);
  if (!keys) return out.send(error_reply(keys.error()));
  std::optional<std::string> tenant;
  if (!caller->is_operator()) tenant = caller->tenant;
  auto listed = (*keys)->list(tenant);
  if (!listed) return out.send(error_reply(listed.error()));
  json items = json::array();
  for (const auth::KeyRecord& k : *listed) items.push_back(key_json(k));
  out.send(http::json_response(200, {{"keys", std::move(items)}}));
}

void get_key(ApiDeps& deps, const http::Request& req, http::Responder& out) {
  auto caller = auth::admit(deps.access, req, auth::Action::kAdmin, auth::Resource::server(), out);
  if (!caller) return;
  auto keys = key_store(deps);
  if (!keys) return out.send(error_reply(keys.error()));
  auto key = visible_key(**keys, *caller, req.params.at("id"));
  if (!key) return out.send(error_reply(key.error()));
  out.send(http::json_response(200, key_json(*key)));
}

void revoke_key(ApiDeps& deps, const http::Request& req, http::Responder& out) {
  constexpr std::string_view kAction = "key.revoke";
  const std::string& id = req.params.at("id");
  auto caller = auth::admit_change(deps.access, deps.audit, req, auth::Action::kAdmin,
                                   auth::Resource::server(), kAction, out);
  if (!caller) return;
  auto keys = key_store(deps);
  if (!keys) return reply_change_error(deps, *caller, kAction, id, req, keys.error(), out);
  auto key = visible_key(**keys, *caller, id);
  if (!key) return reply_change_error(deps, *caller, kAction, id, req, key.error(), out);
  int64_t now = wall_micros();
  if (auto ok = check_not_last_admin(**keys, *key, now); !ok) {
    return reply_change_error(deps, *caller, kAction, id, req, ok.error(), out);
  }
  if (auto ok = (*keys)->revoke(id, now); !ok) {
    return reply_change_error(deps, *caller, kAction, id, req, ok.error(), out);
  }
  auto revoked = (*keys)->get(id);
  if (!revoked) return reply_change_error(deps, *caller, kAction, id, req, revoked.error(), out);
  record_change(deps, *caller, kAction, id, req, 200);
  out.send(http::json_response(200, key_json(*revoked)));
}

}  // namespace

void add_key_routes(http::Router& router, ApiDeps& deps) {
  router.add(
      "POST", "/api/v1/keys",
      [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
        create_key(deps, req, *res);
      },
      kMaxKeyBody);
  router.add("GET", "/api/v1/keys",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               list_keys(deps, req, *res);
             });
  router.add("GET", "/api/v1/keys/{id}",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               get_key(deps, req, *res);
             });
  router.add("DELETE", "/api/v1/keys/{id}",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               revoke_key(deps, req, *res);
             });
}

}  // namespace kumo::api
