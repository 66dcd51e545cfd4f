#include "auth/keys.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <utility>

#include "auth/key_crypto.h"

namespace kumo::auth {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS auth_keys (
  id            TEXT PRIMARY KEY,
  tenant        TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  scopes        TEXT    NOT NULL,
  salt          TEXT    NOT NULL,  -- hex
  secret_sha256 TEXT    NOT NULL,  -- hex of SHA-256(salt || secret)
  created_us    INTEGER NOT NULL,
  last_used_us  INTEGER,           -- NULL: never used
  expires_us    INTEGER,           -- NULL: never expires
  revoked_us    INTEGER,           -- NULL: in force
  secret_sealed TEXT               -- the secret under the sealing key (sealing.h); NULL: none
);
CREATE INDEX IF NOT EXISTS auth_keys_by_tenant ON auth_keys(tenant);
)sql";

constexpr int64_t kNeverUsed = std::numeric_limits<int64_t>::min();

constexpr const char* kColumns =
    "SELECT id, tenant, name, scopes, created_us, last_used_us, expires_us, revoked_us, salt, "
    "secret_sha256, secret_sealed FROM auth_keys ";

// Tables made before secrets were sealed lack the column: their keys cannot sign SigV4.
Result<void> migrate(store::Database& db) {
  auto st = db.prepare("SELECT 1 FROM pragma_table_info('auth_keys') WHERE name = 'secret_sealed'");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (*row) return {};
  return db.exec("ALTER TABLE auth_keys ADD COLUMN secret_sealed TEXT");
}

Error unauthenticated(std::string message) {
  return make_error(ErrorCode::kUnauthenticated, std::move(message));
}

// Text from a client, fit for a message: printable ASCII, at most 63 characters.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 63)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

Error not_found(std::string_view id) {
  return make_error(ErrorCode::kNotFound,
                    fmt::format("no key '{}'; `kumo keys ls` lists them", shown(id)));
}

// "2026-12-07T04:47:37Z"
std::string utc(int64_t us) {
  auto t = static_cast<std::time_t>(us / 1'000'000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(t));
}

std::optional<int64_t> optional_int(const store::Statement& st, int column) {
  if (st.is_null(column)) return std::nullopt;
  return st.int64(column);
}

void bind_optional(store::Statement& st, int index, const std::optional<int64_t>& v) {
  if (v) {
    st.bind(index, *v);
  } else {
    st.bind_null(index);
  }
}

// A row of kColumns. Scopes this build cannot read (a newer server wrote them) leave the
// record with none, so it allows nothing.
KeyRecord read_record(const store::Statement& st) {
  KeyRecord r;
  r.id = st.text(0);
  r.tenant = st.text(1);
  r.name = st.text(2);
  auto scopes = parse_grants(st.text(3));
  if (scopes) {
    r.scopes = std::move(*scopes);
  } else {
    spdlog::error("auth: key {} has scopes this server cannot read: {}", r.id,
                  scopes.error().message);
  }
  r.created_us = st.int64(4);
  r.last_used_us = optional_int(st, 5);
  r.expires_us = optional_int(st, 6);
  r.revoked_us = optional_int(st, 7);
  return r;
}

bool valid_tenant(std::string_view tenant) {
  return tenant.size() <= 63 && std::all_of(tenant.begin(), tenant.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

// Grants made in code rather than parsed must still read back from the table.
bool valid_grants(const std::vector<Grant>& grants) {
  if (grants.empty() || grants.size() > kMaxGrants) return false;
  return std::all_of(grants.begin(), grants.end(), [](const Grant& g) {
    auto back = parse_grant(to_string(g));
    return back && *back == g;
  });
}

Result<void> check_spec(const KeySpec& spec, int64_t now_us) {
  auto invalid = [](std::string m) {
    return make_error(ErrorCode::kInvalidArgument, std::move(m));
  };
  bool printable = std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  });
  if (spec.name.empty() || spec.name.size() > 64 || !printable) {
    return invalid("key name: 1..64 printable characters, e.g. \"ci deploys\"");
  }
  if (!valid_tenant(spec.tenant)) {
    return invalid(
        fmt::format("tenant '{}': empty for the operator's, else 1..63 of a-z, 0-9 "
                    "and '-'",
                    shown(spec.tenant)));
  }
  if (!valid_grants(spec.scopes)) {
    return invalid(fmt::format("key scopes: 1..{} grants, e.g. read or admin", kMaxGrants));
  }
  if (spec.expires_us && *spec.expires_us <= now_us) {
    return invalid("key expiry: must be in the future");
  }
  return {};
}

}  // namespace

std::string format_token(std::string_view id, std::string_view secret) {
  return fmt::format("{}{}_{}", kTokenPrefix, id, secret);
}

Result<TokenParts> parse_token(std::string_view token) {
  // kumo_ kk_xxxxxxxxxxxxxxxx _ <secret>
  constexpr size_t kLength = kTokenPrefix.size() + kIdLength + 1 + kSecretLength;
  const char* malformed =
      "malformed key: expected kumo_<id>_<secret>, as `kumo keys create` prints it";
  if (token.size() != kLength || !token.starts_with(kTokenPrefix)) {
    return unauthenticated(malformed);
  }
  std::string_view id = token.substr(kTokenPrefix.size(), kIdLength);
  std::string_view secret = token.substr(kTokenPrefix.size() + kIdLength + 1);
  if (!is_key_id(id) || token[kTokenPrefix.size() + kIdLength] != '_' || !is_secret(secret)) {
    return unauthenticated(malformed);
  }
  return TokenParts{std::string(id), std::string(secret)};
}

KeyStore::KeyStore(std::unique_ptr<store::Database> db, std::optional<SealingKey> sealing)
    : db_(std::move(db)),
      sealing_(std::move(sealing)),
      decoy_salt_(random_bytes(kSaltBytes)),
      decoy_hash_(random_bytes(32)) {}

Result<std::unique_ptr<KeyStore>> KeyStore::open(std::unique_ptr<store::Database> db,
                                                 std::optional<SealingKey> sealing) {
  auto made = db->exec(kSchema);
  if (made) made = migrate(*db);
  if (!made) {
    return make_error(made.error().code, "cannot create the keys table: " + made.error().message);
  }
  return std::unique_ptr<KeyStore>(new KeyStore(std::move(db), std::move(sealing)));
}

Result<std::unique_ptr<KeyStore>> KeyStore::open(const std::string& path,
                                                 std::optional<SealingKey> sealing) {
  auto db = store::Database::open(path);
  if (!db) return db.error();
  return open(std::move(*db), std::move(sealing));
}

// Requires db_mu_.
Result<NewKey> KeyStore::insert(const KeySpec& spec, int64_t now_us) {
  auto count = db_->prepare("SELECT COUNT(*) FROM auth_keys");
  if (!count) return count.error();
  if (auto row = count->step(); !row) return row.error();
  if (count->int64(0) >= kMaxKeys) {
    return make_error(ErrorCode::kConflict,
                      fmt::format("there are {} keys, the most a server keeps", kMaxKeys));
  }
  NewKey out;
  out.record = KeyRecord{new_key_id(), spec.tenant,  spec.name,       spec.scopes,
                         now_us,       std::nullopt, spec.expires_us, std::nullopt};
  std::string secret = new_secret();
  std::string salt = random_bytes(kSaltBytes);
  auto st = db_->prepare(
      "INSERT INTO auth_keys (id, tenant, name, scopes, salt, secret_sha256, created_us, "
      "expires_us, secret_sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!st) return st.error();
  st->bind(1, std::string_view(out.record.id))
      .bind(2, std::string_view(spec.tenant))
      .bind(3, std::string_view(spec.name))
      .bind(4, to_string(spec.scopes))
      .bind(5, to_hex(salt))
      .bind(6, to_hex(salted_hash(salt, secret)))
      .bind(7, now_us);
  bind_optional(*st, 8, spec.expires_us);
  if (sealing_) {
    st->bind(9, sealing_->seal(secret, out.record.id));
  } else {
    st->bind_null(9);
  }
  if (auto r = st->run(); !r) return r.error();
  out.token = format_token(out.record.id, secret);
  return out;
}

Result<NewKey> KeyStore::create(const KeySpec& spec, int64_t now_us) {
  if (auto ok = check_spec(spec, now_us); !ok) return ok.error();
  std::lock_guard lock(db_mu_);
  return insert(spec, now_us);
}

Result<std::optional<NewKey>> KeyStore::create_if_empty(const KeySpec& spec, int64_t now_us) {
  if (auto ok = check_spec(spec, now_us); !ok) return ok.error();
  std::lock_guard lock(db_mu_);
  if (auto r = db_->exec("BEGIN IMMEDIATE"); !r) return r.error();
  auto made = [&]() -> Result<std::optional<NewKey>> {
    auto any = db_->prepare("SELECT 1 FROM auth_keys LIMIT 1");
    if (!any) return any.error();
    auto row = any->step();
    if (!row) return row.error();
    if (*row) return std::nullopt;
    auto key = insert(spec, now_us);
    if (!key) return key.error();
    return std::optional<NewKey>(std::move(*key));
  }();
  Result<void> done = made ? db_->exec("COMMIT") : Result<void>(made.error());
  if (!done) {
    (void)db_->exec("ROLLBACK");
    return done.error();
  }
  return made;
}

Result<std::vector<KeyRecord>> KeyStore::list(const std::optional<std::string>& tenant) const {
  std::lock_guard lock(db_mu_);
  auto st = db_->prepare(std::string(kColumns) + (tenant ? "WHERE tenant = ?1 " : "") +
                         "ORDER BY created_us, rowid");
  if (!st) return st.error();
  if (tenant) st->bind(1, std::string_view(*tenant));
  std::vector<KeyRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read_record(*st));
  }
}

Result<std::shared_ptr<KeyStore::Cached>> KeyStore::load(std::string_view id) const {
  std::lock_guard lock(db_mu_);
  auto st = db_->prepare(std::string(kColumns) + "WHERE id = ?1");
  if (!st) return st.error();
  st->bind(1, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::shared_ptr<Cached>();
  auto c = std::make_shared<Cached>();
  c->record = read_record(*st);
  c->salt = from_hex(st->text(8));
  c->hash = from_hex(st->text(9));
  if (st->is_null(10)) {
    c->no_secret = "it was made before keys could sign AWS requests; make a new key";
  } else if (!sealing_) {
    c->no_secret = "this server has no sealing key to read it with";
  } else if (auto opened = sealing_->open(st->text(10), c->record.id)) {
    c->secret = std::move(*opened);
  } else {
    spdlog::error("auth: key {}: {}", c->record.id, opened.error().message);
    c->no_secret = "its sealed secret does not open (altered?)";
  }
  c->last_write_us = c->record.last_used_us.value_or(kNeverUsed);
  return c;
}

Result<KeyRecord> KeyStore::get(std::string_view id) const {
  auto key = load(id);
  if (!key) return key.error();
  if (!*key) return not_found(id);
  return (*key)->record;
}

Result<void> KeyStore::revoke(std::string_view id, int64_t now_us) {
  {
    std::lock_guard lock(db_mu_);
    auto st =
        db_->prepare("UPDATE auth_keys SET revoked_us = COALESCE(revoked_us, ?2) WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id).bind(2, now_us);
    if (auto r = st->run(); !r) return r;
    if (db_->changes() == 0) return not_found(id);
  }
  std::lock_guard lock(mu_);
  cache_.erase(std::string(id));
  ++generation_;
  return {};
}

Result<void> KeyStore::erase(std::string_view id) {
  {
    std::lock_guard lock(db_mu_);
    auto st = db_->prepare("DELETE FROM auth_keys WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id);
    if (auto r = st->run(); !r) return r;
  }
  std::lock_guard lock(mu_);
  cache_.erase(std::string(id));
  ++generation_;
  return {};
}

Result<NewKey> KeyStore::create_ephemeral(const KeySpec& spec, int64_t now_us) {
  if (auto ok = check_spec(spec, now_us); !ok) return ok.error();
  auto c = std::make_shared<Cached>();
  c->record = KeyRecord{new_key_id(), spec.tenant,  spec.name,       spec.scopes,
                        now_us,       std::nullopt, spec.expires_us, std::nullopt};
  std::string secret = new_secret();
  c->salt = random_bytes(kSaltBytes);
  c->hash = salted_hash(c->salt, secret);
  c->secret = secret;
  c->loaded_us = now_us;
  NewKey out{c->record, format_token(c->record.id, secret)};
  std::lock_guard lock(mu_);
  if (ephemeral_.size() >= kMaxEphemeralKeys) {
    return make_error(ErrorCode::kConflict,
                      fmt::format("there are {} instance keys, the most a server keeps",
                                  kMaxEphemeralKeys));
  }
  std::string id = c->record.id;
  ephemeral_[id] = std::move(c);
  return out;
}

void KeyStore::drop_ephemeral(std::string_view id) {
  std::lock_guard lock(mu_);
  ephemeral_.erase(std::string(id));
}

Result<KeyStore::Found> KeyStore::find(std::string_view id, int64_t now_us) {
  Found f;
  {
    std::lock_guard lock(mu_);
    f.generation = generation_;
    if (auto e = ephemeral_.find(std::string(id)); e != ephemeral_.end()) {
      f.key = e->second;
      f.ephemeral = true;
    } else if (auto it = cache_.find(std::string(id));
               it != cache_.end() && now_us - it->second->loaded_us < kCacheForUs) {
      f.key = it->second;
    }
  }
  f.cached = f.key != nullptr;
  if (!f.cached) {
    auto loaded = load(id);
    if (!loaded) return loaded.error();
    f.key = std::move(*loaded);
    if (f.key) f.key->loaded_us = now_us;
  }
  return f;
}

Result<void> KeyStore::in_force(const KeyRecord& r, int64_t now_us) {
  if (r.revoked_us) {
    return unauthenticated(
        fmt::format("revoked key '{}': revoked at {}", r.id, utc(*r.revoked_us)));
  }
  if (r.expires_us && now_us >= *r.expires_us) {
    return unauthenticated(
        fmt::format("expired key '{}': expired at {}", r.id, utc(*r.expires_us)));
  }
  return {};
}

Result<KeyWithSecret> KeyStore::signer(std::string_view id, int64_t now_us) {
  if (!is_key_id(id)) return unauthenticated("unknown key: no key has this id");
  auto f = find(id, now_us);
  if (!f) return f.error();
  if (!f->key) return unauthenticated("unknown key: no key has this id");
  if (!f->cached && !f->ephemeral) remember(f->key, f->generation);
  if (auto ok = in_force(f->key->record, now_us); !ok) return ok.error();
  if (f->key->secret.empty()) {
    return unauthenticated(
        fmt::format("key '{}' cannot sign AWS requests: {}", f->key->record.id, f->key->no_secret));
  }
  return KeyWithSecret{f->key->record, f->key->secret};
}

Result<std::string> KeyStore::secret(std::string_view id, int64_t now_us) {
  auto key = signer(id, now_us);
  if (!key) return key.error();
  return std::move(key->secret);
}

void KeyStore::record_use(std::string_view id, int64_t now_us) {
  std::shared_ptr<Cached> key;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(std::string(id)); it != cache_.end()) key = it->second;
  }
  if (key) note_use(*key, now_us);
}

Result<KeyRecord> KeyStore::authenticate(std::string_view token, int64_t now_us) {
  auto parts = parse_token(token);
  if (!parts) return parts.error();
  auto found = find(parts->id, now_us);
  if (!found) return found.error();
  std::shared_ptr<Cached> key = found->key;
  // The same work whether the id exists or not.
  bool right = same_bytes(salted_hash(key ? key->salt : decoy_salt_, parts->secret),
                          key ? key->hash : decoy_hash_);
  if (!key || !right) return unauthenticated("unknown key: no key has this id and secret");
  if (!found->cached && !found->ephemeral) remember(key, found->generation);
  const KeyRecord& r = key->record;
  if (auto ok = in_force(r, now_us); !ok) return ok.error();
  if (!found->ephemeral) note_use(*key, now_us);
  KeyRecord out = r;
  out.last_used_us = now_us;
  return out;
}

void KeyStore::remember(std::shared_ptr<Cached> key, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_) return;  // a revoke or erase ran meanwhile: this may be stale
  std::string id = key->record.id;
  cache_[id] = std::move(key);
}

void KeyStore::note_use(Cached& key, int64_t now_us) {
  int64_t prev = key.last_write_us.load();
  if (prev > now_us - kLastUseEveryUs) return;
  // One thread of those that see it due writes it.
  if (!key.last_write_us.compare_exchange_strong(prev, now_us)) return;
  std::lock_guard lock(db_mu_);
  auto st = db_->prepare(
      "UPDATE auth_keys SET last_used_us = ?2 WHERE id = ?1 AND "
      "(last_used_us IS NULL OR last_used_us < ?2)");
  Result<void> r = st ? st->bind(1, std::string_view(key.record.id)).bind(2, now_us).run()
                      : Result<void>(st.error());
  if (!r)
    spdlog::warn("auth: cannot record the last use of key {}: {}", key.record.id,
                 r.error().message);
}

}  // namespace kumo::auth
