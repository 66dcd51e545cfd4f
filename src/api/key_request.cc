#include "api/key_request.h"

#include <fmt/format.h>

#include "common/json.h"

namespace kumo::api {
namespace {

using nlohmann::json;

constexpr int64_t kMicrosPerSecond = 1'000'000;

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
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
  int64_t latest = now_us + kMaxKeyLifetimeS * kMicrosPerSecond;
  int64_t expires = in ? (n > 0 && n <= kMaxKeyLifetimeS ? now_us + n * kMicrosPerSecond : -1) : n;
  if (expires <= now_us || expires > latest) {
    return invalid(fmt::format("a key expires in the future and within ten years; {} is {}",
                               in ? "expires_in_s" : "expires_at_us", n));
  }
  return std::optional<int64_t>(expires);
}

}  // namespace

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

Result<void> may_manage(const auth::Caller& caller, std::string_view tenant) {
  if (caller.is_operator() || tenant == caller.tenant) return {};
  std::string whose = tenant.empty() ? std::string("the operator")
                                     : fmt::format("tenant '{}'", tenant.substr(0, 63));
  return make_error(ErrorCode::kPermissionDenied,
                    fmt::format("key {} of tenant '{}' may not manage keys of {}", caller.who(),
                                caller.tenant, whose));
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

}  // namespace kumo::api
