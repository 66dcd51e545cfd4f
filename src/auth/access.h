// Access: who is calling and whether it may do what it asks. Every route of the API asks
// admit() before it acts; nothing else in Kumo decides access.
//
// A request names its key in `Authorization: Bearer <token>` (keys.h). With authentication
// off (`kumo serve --auth none`, loopback only) every request is the operator's admin.
//
// Tenants. A key belongs to one tenant, or to the operator (tenant ""). Inside Kumo a
// tenant's function, bucket, table or topic NAME is kept as `TENANT~NAME`; the tenant
// `default` and the operator use plain names, so data made before tenants existed is the
// default tenant's without moving. No name of any kind may contain '~', so one tenant's names
// can never spell another's. The operator addresses any tenant's things by their full name.
//
// Thread-safety: Access is immutable after construction; KeyStore is thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/keys.h"
#include "auth/scopes.h"
#include "common/result.h"
#include "http/handler.h"

namespace kumo::auth {

inline constexpr char kTenantSeparator = '~';
inline constexpr std::string_view kDefaultTenant = "default";

struct Caller {
  std::string key_id;  // "" when authentication is off
  std::string tenant;  // "" for the operator
  std::vector<Grant> grants;

  bool is_operator() const { return tenant.empty(); }
  // How logs and audit records name the caller: the key id, or "anonymous" with auth off.
  std::string who() const { return key_id.empty() ? "anonymous" : key_id; }
};

// The name `name` (as the caller wrote it) has inside Kumo.
std::string qualify(const Caller& caller, std::string_view name);
std::string qualify(std::string_view tenant, std::string_view name);
// The name the caller knows an internal name by; nullopt when it is another tenant's thing.
// The operator sees every name as it is kept.
std::optional<std::string> visible_name(const Caller& caller, std::string_view internal);
// The tenant an internal name belongs to ("default" for a plain name).
std::string tenant_of(std::string_view internal);
// An internal name without its tenant part.
std::string_view local_name(std::string_view internal);

class Access {
 public:
  using Clock = std::function<int64_t()>;  // wall microseconds
  // `keys` null turns authentication off. `keys` must outlive this.
  explicit Access(KeyStore* keys, Clock now_us = nullptr);

  bool enabled() const { return keys_ != nullptr; }
  KeyStore* keys() const { return keys_; }
  // The wall time (µs) keys are checked at: SigV4's clock too.
  int64_t now_us() const { return now_us_(); }

  // The caller an Authorization header value names. kUnauthenticated when it is empty, not
  // "Bearer <token>", or the key is unknown, revoked or expired.
  Result<Caller> identify(std::string_view authorization) const;
  // kPermissionDenied naming the key, the action and the resource when the grants do not allow it.
  static Result<void> permit(const Caller& caller, Action action, const Resource& resource);
  // identify() then permit().
  Result<Caller> check(std::string_view authorization, Action action,
                       const Resource& resource) const;

 private:
  KeyStore* keys_;
  Clock now_us_;
};

// For routes: the caller if it may do `action` on `resource` (a name as the caller wrote
// it); otherwise answers 401 (with WWW-Authenticate) or 403 with the JSON error body, and
// returns nullopt.
std::optional<Caller> admit(const Access& access, const http::Request& req, Action action,
                            const Resource& resource, http::Responder& out);

// The 401/403 reply for an error of identify()/permit().
http::Response refusal(const Error& error);

}  // namespace kumo::auth
