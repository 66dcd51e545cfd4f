#include "auth/tenants.h"

#include <fmt/format.h>

#include "common/tenant_name.h"

namespace kumo::auth {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS auth_tenants (
  name       TEXT PRIMARY KEY,
  created_us INTEGER NOT NULL
);
)sql";

// Text from a client, fit for a message: printable ASCII, at most 63 characters.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 63)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

Error not_found(std::string_view name) {
  return make_error(ErrorCode::kNotFound,
                    fmt::format("no tenant '{}'; `kumo tenants ls` lists them", shown(name)));
}

}  // namespace

Result<std::unique_ptr<TenantStore>> TenantStore::open(std::unique_ptr<store::Database> db,
                                                       int64_t now_us) {
  if (auto r = db->exec(kSchema); !r) {
    return make_error(r.error().code, "cannot create the tenants table: " + r.error().message);
  }
  auto st = db->prepare("INSERT OR IGNORE INTO auth_tenants (name, created_us) VALUES (?1, ?2)");
  if (!st) return st.error();
  st->bind(1, kDefaultTenantName).bind(2, now_us);
  if (auto r = st->run(); !r) return r.error();
  return std::unique_ptr<TenantStore>(new TenantStore(std::move(db)));
}

Result<std::unique_ptr<TenantStore>> TenantStore::open(const std::string& path, int64_t now_us) {
  auto db = store::Database::open(path);
  if (!db) return db.error();
  return open(std::move(*db), now_us);
}

Result<Tenant> TenantStore::create(std::string_view name, int64_t now_us) {
  if (!is_valid_tenant_name(name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("tenant name '{}' is invalid: use 1 to 63 of a-z, 0-9 and '-', "
                                  "not starting with '-'",
                                  shown(name)));
  }
  std::lock_guard lock(mu_);
  auto count = db_->prepare("SELECT COUNT(*) FROM auth_tenants");
  if (!count) return count.error();
  if (auto row = count->step(); !row) return row.error();
  if (count->int64(0) >= kMaxTenants) {
    return make_error(ErrorCode::kConflict,
                      fmt::format("there are {} tenants, the most a server keeps", kMaxTenants));
  }
  auto st = db_->prepare("INSERT OR IGNORE INTO auth_tenants (name, created_us) VALUES (?1, ?2)");
  if (!st) return st.error();
  st->bind(1, name).bind(2, now_us);
  if (auto r = st->run(); !r) return r.error();
  if (db_->changes() == 0) {
    return make_error(ErrorCode::kConflict, fmt::format("tenant '{}' already exists", name));
  }
  return Tenant{std::string(name), now_us};
}

Result<std::vector<Tenant>> TenantStore::list() const {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT name, created_us FROM auth_tenants ORDER BY name");
  if (!st) return st.error();
  std::vector<Tenant> out;
  for (;;) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) break;
    out.push_back(Tenant{st->text(0), st->int64(1)});
  }
  return out;
}

Result<bool> TenantStore::exists(std::string_view name) const {
  if (!is_valid_tenant_name(name)) return false;
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT 1 FROM auth_tenants WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, name);
  return st->step();
}

Result<void> TenantStore::remove(std::string_view name) {
  if (name == kDefaultTenantName) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the default tenant always exists: it owns every plain name");
  }
  if (!is_valid_tenant_name(name)) return not_found(name);
  std::lock_guard lock(mu_);
  auto st = db_->prepare("DELETE FROM auth_tenants WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, name);
  if (auto r = st->run(); !r) return r.error();
  if (db_->changes() == 0) return not_found(name);
  return {};
}

}  // namespace kumo::auth
