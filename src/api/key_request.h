// Internal to src/api: what the keys routes read and write. parse_key_request() reads the
// body of POST /api/v1/keys, may_manage() is the one rule on whose keys a caller manages,
// key_json() is a key as the API shows it (never its secret or hash). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "auth/access.h"
#include "auth/keys.h"
#include "common/result.h"

namespace kumo::api {

// Keys expire within this of their making, if at all.
inline constexpr int64_t kMaxKeyLifetimeS = 10LL * 366 * 86'400;

// {"name", "scopes" (a grant list as text, or a list of grants), "tenant" (optional; default
// the caller's), "expires_in_s" or "expires_at_us" (optional)} -> the key to make.
// kInvalidArgument naming the field for anything else: an unknown field, a bad grant, both
// expiries, an expiry not in (now, now + kMaxKeyLifetimeS]. The name's own bounds are
// KeyStore::create()'s.
Result<auth::KeySpec> parse_key_request(std::string_view body, const auth::Caller& caller,
                                        int64_t now_us);

// The operator's keys manage every tenant's keys; a tenant's, its own tenant's only
// (kPermissionDenied naming whose keys were asked for).
Result<void> may_manage(const auth::Caller& caller, std::string_view tenant);

// {"id", "tenant", "name", "scopes": [...], "created_us", "last_used_us", "expires_us",
// "revoked_us"}, the optional times null when unset.
nlohmann::json key_json(const auth::KeyRecord& key);

}  // namespace kumo::api
