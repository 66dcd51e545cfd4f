// KeyStore: API keys (an id, a secret, a tenant and scopes) in the `auth_keys` SQLite table,
// and the check of a presented token (authenticate), which is on every request's path.
//
// A key's token is `kumo_<id>_<secret>`: the id is public (`kk_` and 16 of a-z0-9; it names
// the key in listings, logs and audit records), the secret is 43 characters of a-z A-Z 0-9
// (256 random bits from OpenSSL's RAND_bytes). create() returns the token once; the store
// keeps only SHA-256(salt || secret) with a 16-byte per-key salt. A fast hash is enough here,
// unlike for passwords: guessing a 256-bit random secret from its hash is out of reach at any
// hash speed, and a slow hash (bcrypt, argon2) would cost milliseconds on every request whose
// key is not cached. Hashes are compared in constant time.
//
// authenticate() keeps the keys it has verified in memory (id -> record, salt, hash), so the
// hot path costs a map lookup and one SHA-256 of ~60 bytes; SQLite is read on a cache miss,
// and written at most once a minute per key to record its last use. A cached entry is
// re-read after a minute, so a key revoked through another connection to the same file stops
// working within a minute; revoke() through this store takes effect at once. An unknown id
// costs the same hash and comparison as a wrong secret, and both give the same error; ids
// are not secret (they travel in clear as AWS access key ids), so whether one exists may show
// in timing (a SQLite lookup) but nothing about any secret does.
//
// SigV4 is symmetric: verifying a signature needs the secret itself. So, given the server's
// SealingKey (sealing.h), the store also keeps each new key's secret sealed (AES-256-GCM, the
// key id as additional data) and signer()/secret() open it on a cache miss; the cache then
// holds it as it holds the hash. Keys made without a sealing key (or before there was one)
// still work as Bearer tokens but cannot sign SigV4.
//
// Times are microseconds since the Unix epoch, passed in by the caller (a fake clock in tests).
// Thread-safety: every method is thread-safe. Ownership: the store owns its connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/scopes.h"
#include "auth/sealing.h"
#include "common/result.h"
#include "store/sqlite.h"

namespace kumo::auth {

struct KeyRecord {
  std::string id;      // "kk_" + 16 of a-z0-9
  std::string tenant;  // "" for the operator's keys
  std::string name;
  std::vector<Grant> scopes;
  int64_t created_us = 0;
  std::optional<int64_t> last_used_us;  // to the minute; empty when never used
  std::optional<int64_t> expires_us;    // empty: never expires
  std::optional<int64_t> revoked_us;    // empty: in force
};

struct KeySpec {
  std::string name;    // 1..64 printable characters
  std::string tenant;  // "" (the operator's) or 1..63 of a-z, 0-9 and '-'
  std::vector<Grant> scopes;
  std::optional<int64_t> expires_us;
};

// A key just made: its record and its token, which is shown once and never stored.
struct NewKey {
  KeyRecord record;
  std::string token;
};

// A key in force and its secret, for checking an AWS SigV4 signature.
struct KeyWithSecret {
  KeyRecord record;
  std::string secret;
};

// A token split into its parts (no check against the store).
struct TokenParts {
  std::string id;
  std::string secret;
};
std::string format_token(std::string_view id, std::string_view secret);
// kUnauthenticated "malformed key: ..." when the text is not a token's shape.
Result<TokenParts> parse_token(std::string_view token);

class KeyStore {
 public:
  static constexpr int64_t kMaxKeys = 10'000;             // rows, revoked ones included
  static constexpr int64_t kLastUseEveryUs = 60'000'000;  // last_used_us is written this often
  static constexpr int64_t kCacheForUs = 60'000'000;      // a cached key is re-read after this

  // Takes the connection and creates (or brings up to date) the table. Without `sealing`,
  // keys are made and read without their sealed secret, so none can sign SigV4.
  static Result<std::unique_ptr<KeyStore>> open(std::unique_ptr<store::Database> db,
                                                std::optional<SealingKey> sealing = std::nullopt);
  // Opens (creating) the SQLite file at `path`.
  static Result<std::unique_ptr<KeyStore>> open(const std::string& path,
                                                std::optional<SealingKey> sealing = std::nullopt);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Makes a key. kInvalidArgument names the bad field; kConflict past kMaxKeys.
  Result<NewKey> create(const KeySpec& spec, int64_t now_us);
  // Makes a key only when the store has none at all (revoked ones count), in one transaction;
  // nullopt when there was one already.
  Result<std::optional<NewKey>> create_if_empty(const KeySpec& spec, int64_t now_us);

  // Every key (tenant nullopt) or one tenant's, oldest first; never a secret or its hash.
  Result<std::vector<KeyRecord>> list(const std::optional<std::string>& tenant) const;
  // One key; kNotFound when there is none with that id.
  Result<KeyRecord> get(std::string_view id) const;

  // Marks the key revoked (kept for the record); at once for authenticate(). Revoking a
  // revoked key succeeds and keeps the first time. kNotFound for an unknown id.
  Result<void> revoke(std::string_view id, int64_t now_us);
  // Deletes the row outright: only to undo a create() whose token could not be handed over.
  Result<void> erase(std::string_view id);

  // Ephemeral keys: kept in memory only, never listed or written; for the identity of one
  // function instance, which drops its key when it ends (a server restart drops them all).
  // authenticate() and secret() know them; revoke(), get() and list() do not.
  static constexpr size_t kMaxEphemeralKeys = 100'000;
  // kInvalidArgument names a bad field; kConflict past kMaxEphemeralKeys.
  Result<NewKey> create_ephemeral(const KeySpec& spec, int64_t now_us);
  // Forgets the key at once; unknown ids are ignored.
  void drop_ephemeral(std::string_view id);

  // The key `id` (the AWS access key id) and its secret, if it is in force at `now_us` and
  // its secret can be read; cached as authenticate() caches. kUnauthenticated: "unknown
  // key", "revoked key", "expired key", or "key '...' cannot sign AWS requests" (no sealed
  // secret, or one that does not open).
  Result<KeyWithSecret> signer(std::string_view id, int64_t now_us);
  // signer()'s secret alone.
  Result<std::string> secret(std::string_view id, int64_t now_us);
  // Records the use of a stored key that signer() found, once its signature was verified
  // (last_used_us, at most once a minute); nothing for other ids.
  void record_use(std::string_view id, int64_t now_us);

  // The key a token stands for, if it may be used at `now_us`. Errors are kUnauthenticated
  // and start with which: "malformed key", "unknown key" (no such id, or a wrong secret),
  // "revoked key", "expired key" (the last two only once the secret is proven right).
  Result<KeyRecord> authenticate(std::string_view token, int64_t now_us);

 private:
  struct Cached {
    KeyRecord record;
    std::string salt;                       // raw bytes
    std::string hash;                       // raw SHA-256(salt || secret)
    std::string secret;                     // "" when it cannot be read (see no_secret)
    std::string no_secret;                  // why there is no secret
    int64_t loaded_us = 0;                  // when read from SQLite
    std::atomic<int64_t> last_write_us{0};  // last_used_us as last written
  };

  // A key from the ephemeral keys, the cache or SQLite (key null when there is none).
  struct Found {
    std::shared_ptr<Cached> key;
    bool ephemeral = false;
    bool cached = false;
    uint64_t generation = 0;  // generation_ before the lookup, for remember()
  };

  KeyStore(std::unique_ptr<store::Database> db, std::optional<SealingKey> sealing);
  Result<Found> find(std::string_view id, int64_t now_us);
  static Result<void> in_force(const KeyRecord& r, int64_t now_us);
  // nullptr when there is no such key.
  Result<std::shared_ptr<Cached>> load(std::string_view id) const;
  Result<NewKey> insert(const KeySpec& spec, int64_t now_us);
  void remember(std::shared_ptr<Cached> key, uint64_t generation);
  void note_use(Cached& key, int64_t now_us);

  mutable std::mutex db_mu_;             // Serializes use of db_ (transactions need it).
  std::unique_ptr<store::Database> db_;  // Guarded by db_mu_.
  const std::optional<SealingKey> sealing_;

  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Cached>> cache_;      // Guarded by mu_.
  std::unordered_map<std::string, std::shared_ptr<Cached>> ephemeral_;  // Guarded by mu_.
  // Bumped by revoke and erase, so a load that raced one is not cached. Guarded by mu_.
  uint64_t generation_ = 0;
  // What an unknown id is checked against, so it costs what a wrong secret costs.
  const std::string decoy_salt_;
  const std::string decoy_hash_;
};

}  // namespace kumo::auth
