// API keys: POST and GET /api/v1/keys, GET and DELETE /api/v1/keys/{id}. Each needs the
// admin grant. The operator's admin manages every key; a tenant's admin manages its own
// tenant's keys only, and another tenant's key is "not found" to it. Creating and revoking
// are recorded in the audit log.
#include <fmt/format.h>

#include "api/errors.h"
#include "api/routes.h"
#include "common/clock.h"
#include "common/json.h"

namespace kumo::api {
namespace {

using nlohmann::json;

constexpr size_t kMaxKeyBody = 16 * 1024;
constexpr int64_t kMaxLifetimeS = 10LL * 366 * 86'400;  // ten years
constexpr int64_t kMicrosPerSecond = 1'000'000;

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

json key_json(const auth::KeyRecord& k) {
  auto optional = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(); };
  json scopes = json::array();
  for (const auth::Grant& g : k.scopes) scopes.push_back(auth::to_string(g));
  return {{"id", k.id},
          {"tenant", k.tenant},
          {"name", k.name},
          {"scopes", std::move(scopes)},
          {"created_us", k.created_us},
          {"last_used_us", optional(k.last_used_us)},
          {"expires_us", optional(k.expires_us)},
          {"revoked_us", optional(k.revoked_us)}};
}

// "scopes": "read, invoke:function/x" or ["read", "invoke:function/x"].
Result<std::vector<auth::Grant>> parse_scopes(const json& value) {
  if (value.is_string()) return auth::parse_grants(value.get<std::string>());
  if (!value.is_array()) {
    return invalid("scopes: a string such as \"read, invoke:function/hello\" or a list of grants");
  }
  std::string joined;
  for (const json& grant : value) {
    if (!grant.is_string()) return invalid("scopes: every grant in the list must be a string");
    joined += grant.get<std::string>() + ",";
  }
  return auth::parse_grants(joined);
}

// "expires_in_s" (seconds from now) or "expires_at_us" (Unix µs); nullopt for neither.
Result<std::optional<int64_t>> parse_expiry(const json& body, int64_t now_us) {
  bool in = body.contains("expires_in_s");
  bool at = body.contains("expires_at_us");
  if (in && at) return invalid("give expires_in_s or expires_at_us, not both");
  if (!in && !at) return std::optional<int64_t>();
  const json& v = body.at(in ? "expires_in_s" : "expires_at_us");
  if (!v.is_number_integer()) {
    return invalid(fmt::format("{}: a whole number", in ? "expires_in_s" : "expires_at_us"));
  }
  int64_t n = v.get<int64_t>();
  int64_t latest = now_us + kMaxLifetimeS * kMicrosPerSecond;
  int64_t expires = in ? (n > 0 && n <= kMaxLifetimeS ? now_us + n * kMicrosPerSecond : -1) : n;
  if (expires <= now_us || expires > latest) {
    return invalid(fmt::format("a key expires in the future and within ten years; {} is {}",
                               in ? "expires_in_s" : "expires_at_us", n));
  }
  return std::optional<int64_t>(expires);
}

// The key a POST body asks for; its tenant is the caller's unless it names one.
Result<auth::KeySpec> parse_key_request(std::string_view body, const auth::Caller& caller,
                                        int64_t now_us) {
  auto parsed = parse_json(body);
  if (!parsed) return invalid("the body must be a JSON object: " + parsed.error().message);
  if (!parsed->is_object()) return invalid("the body must be a JSON object");
  for (const auto& [field, value] : parsed->items()) {
    if (field != "name" && field != "scopes" && field != "tenant" && field != "expires_in_s" &&
        field != "expires_at_us") {
      return invalid(
          fmt::format("unknown field '{}'; a key has name, scopes, tenant, "
                      "expires_in_s or expires_at_us",
                      field.substr(0, 64)));
    }
  }
  auth::KeySpec spec;
  auto name = parsed->find("name");
  if (name == parsed->end() || !name->is_string()) return invalid("name: a string is required");
  spec.name = name->get<std::string>();
  auto scopes = parsed->find("scopes");
  if (scopes == parsed->end()) return invalid("scopes: required, e.g. \"read\" or \"admin\"");
  auto grants = parse_scopes(*scopes);
  if (!grants) return grants.error();
  spec.scopes = std::move(*grants);
  spec.tenant = caller.tenant;
  if (auto tenant = parsed->find("tenant"); tenant != parsed->end() && !tenant->is_null()) {
    if (!tenant->is_string()) return invalid("tenant: a string (\"\" for the operator's)");
    spec.tenant = tenant->get<std::string>();
  }
  auto expires = parse_expiry(*parsed, now_us);
  if (!expires) return expires.error();
  spec.expires_us = *expires;
  return spec;
}

// A tenant's admin makes and sees its own tenant's keys only; the operator's, all.
Result<void> may_manage(const auth::Caller& caller, std::string_view tenant) {
  if (caller.is_operator() || tenant == caller.tenant) return {};
  std::string whose = tenant.empty() ? std::string("the operator")
                                     : fmt::format("tenant '{}'", tenant.substr(0, 63));
  return make_error(ErrorCode::kPermissionDenied,
                    fmt::format("key {} of tenant '{}' may not manage keys of {}", caller.who(),
                                caller.tenant, whose));
}

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
