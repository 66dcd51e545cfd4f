// TenantStore: the tenants a server knows, in the `auth_tenants` table of kumo.db.
//
// A tenant is a name (1..63 of a-z, 0-9 and '-', common/tenant_name.h) and when it was made.
// Its things are named TENANT~NAME inside Kumo (auth/access.h); the store only keeps the
// names, so a key can be refused for a tenant that does not exist. `default` always exists
// (open() records it): it owns every plain name, so data from before tenants is its own.
// Removing a tenant is the caller's to allow (api refuses while it owns functions) and to
// finish (revoke its keys); the store forgets the name.
//
// Times are microseconds since the Unix epoch, passed in by the caller.
// Thread-safety: every method is thread-safe. Ownership: the store owns its connection.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/sqlite.h"

namespace kumo::auth {

struct Tenant {
  std::string name;
  int64_t created_us = 0;
};

class TenantStore {
 public:
  static constexpr int64_t kMaxTenants = 10'000;

  // Takes the connection, creates the table if needed and records `default`.
  static Result<std::unique_ptr<TenantStore>> open(std::unique_ptr<store::Database> db,
                                                   int64_t now_us);
  // Opens (creating) the SQLite file at `path`.
  static Result<std::unique_ptr<TenantStore>> open(const std::string& path, int64_t now_us);

  // Makes a tenant. kInvalidArgument for a bad name, kConflict when it exists or past
  // kMaxTenants.
  Result<Tenant> create(std::string_view name, int64_t now_us);
  // Every tenant, by name.
  Result<std::vector<Tenant>> list() const;
  // Whether the tenant exists; false for any invalid name. For refusing a key of an unknown
  // tenant.
  Result<bool> exists(std::string_view name) const;
  // Forgets the tenant. kNotFound when there is none; kInvalidArgument for `default`.
  Result<void> remove(std::string_view name);

 private:
  explicit TenantStore(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}

  mutable std::mutex mu_;
  std::unique_ptr<store::Database> db_;  // Guarded by mu_.
};

}  // namespace kumo::auth
