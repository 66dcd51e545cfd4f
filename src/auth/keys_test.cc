#include "auth/keys.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "auth/key_crypto.h"
#include "common/ids.h"

namespace kumo::auth {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'800'000'000'000'000;  // a fixed wall time, in µs
constexpr int64_t kSecond = 1'000'000;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-auth-" + new_short_id());
    fs::create_directories(dir_);
    path_ = (dir_ / "kumo.db").string();
    keys_ = open();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<KeyStore> open() { return open_with(sealing_); }
  std::unique_ptr<KeyStore> open_with(std::optional<SealingKey> sealing) {
    auto store = KeyStore::open(path_, std::move(sealing));
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  NewKey create(const std::string& scopes, std::optional<int64_t> expires = std::nullopt,
                const std::string& tenant = "") {
    auto made =
        keys_->create(KeySpec{"test key", tenant, parse_grants(scopes).value(), expires}, kNow);
    EXPECT_TRUE(made) << (made ? "" : made.error().message);
    return made ? *made : NewKey{};
  }

  std::string auth_error(const std::string& token, int64_t now = kNow) {
    auto r = keys_->authenticate(token, now);
    EXPECT_FALSE(r) << token << " was accepted";
    if (r) return "";
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
    return r.error().message;
  }

  // Everything SQLite wrote: the database and its write-ahead log.
  std::string file_bytes() const {
    std::string all;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      std::ifstream in(entry.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), {});
    }
    return all;
  }

  std::optional<int64_t> stored_last_use(const std::string& id) {
    auto fresh = open();  // another connection: what is on disk, not in the cache
    return fresh->get(id).value().last_used_us;
  }

  // Runs `sql` on the file through a connection of its own.
  void run_sql(const std::string& sql) {
    auto db = store::Database::open(path_);
    ASSERT_TRUE(db);
    auto r = (*db)->exec(sql);
    ASSERT_TRUE(r) << r.error().message;
  }

  fs::path dir_;
  std::string path_;
  SealingKey sealing_ = SealingKey::generate();
  std::unique_ptr<KeyStore> keys_;
};

TEST_F(KeysTest, ACreatedKeyAuthenticatesWithItsTenantAndScopes) {
  auto key = create("invoke:function/resize,read", std::nullopt, "acme");
  EXPECT_TRUE(key.token.starts_with("kumo_kk_"));
  auto parts = parse_token(key.token);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->id, key.record.id);
  EXPECT_EQ(format_token(parts->id, parts->secret), key.token);

  auto r = keys_->authenticate(key.token, kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, key.record.id);
  EXPECT_EQ(r->tenant, "acme");
  EXPECT_EQ(to_string(r->scopes), "invoke:function/resize,read");
}

TEST_F(KeysTest, KeysSurviveReopenAndListWithoutSecrets) {
  auto a = create("admin");
  auto b = create("read", kNow + 3600 * kSecond, "acme");
  keys_ = open();
  auto all = keys_->list(std::nullopt).value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a.record.id);
  EXPECT_EQ(all[1].expires_us, kNow + 3600 * kSecond);
  EXPECT_EQ(all[1].created_us, kNow);
  auto acme = keys_->list(std::string("acme")).value();
  ASSERT_EQ(acme.size(), 1u);
  EXPECT_EQ(acme[0].id, b.record.id);
  EXPECT_TRUE(keys_->list(std::string("other")).value().empty());
  EXPECT_TRUE(keys_->authenticate(b.token, kNow));
}

TEST_F(KeysTest, SecretsAreNeverStoredInClear) {
  auto key = create("admin");
  ASSERT_TRUE(keys_->authenticate(key.token, kNow));
  std::string secret = parse_token(key.token)->secret;
  keys_.reset();  // closes the connection; whatever SQLite wrote is in the files
  std::string bytes = file_bytes();
  ASSERT_NE(bytes.find(key.record.id), std::string::npos);  // the check can see the table
  EXPECT_EQ(bytes.find(secret), std::string::npos);
  EXPECT_EQ(bytes.find(secret.substr(0, 16)), std::string::npos);
}

TEST_F(KeysTest, ATokenTamperedInAnyOneCharacterIsRefused) {
  auto key = create("admin");
  for (size_t i = 0; i < key.token.size(); ++i) {
    std::string t = key.token;
    t[i] = t[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(keys_->authenticate(t, kNow)) << "position " << i;
  }
  EXPECT_TRUE(keys_->authenticate(key.token, kNow));
}

TEST_F(KeysTest, AnUnknownIdAndAWrongSecretGiveTheSameError) {
  auto key = create("admin");
  auto parts = parse_token(key.token).value();
  std::string other_secret = parse_token(create("read").token)->secret;
  std::string wrong_secret = auth_error(format_token(parts.id, other_secret));
  std::string unknown_id = auth_error(format_token("kk_0000000000000000", parts.secret));
  EXPECT_EQ(wrong_secret, unknown_id);
  EXPECT_TRUE(wrong_secret.starts_with("unknown key")) << wrong_secret;
}

TEST_F(KeysTest, MalformedTokensSaySo) {
  for (const std::string& bad :
       std::vector<std::string>{"", "wrong", "Bearer x", "kumo_", "kumo_kk_short_secret",
                                std::string(10'000, 'k'), std::string("kumo_kk_\0", 9)}) {
    EXPECT_TRUE(auth_error(bad).starts_with("malformed key")) << bad.substr(0, 20);
  }
  auto key = create("admin");
  EXPECT_TRUE(auth_error(key.token + "x").starts_with("malformed key"));
  EXPECT_TRUE(auth_error(key.token.substr(1)).starts_with("malformed key"));
}

TEST_F(KeysTest, ARevokedKeyIsRefusedAtOnceEvenWhenCached) {
  auto key = create("admin");
  ASSERT_TRUE(keys_->authenticate(key.token, kNow));  // now in the cache
  ASSERT_TRUE(keys_->revoke(key.record.id, kNow + kSecond));
  EXPECT_TRUE(auth_error(key.token, kNow + 2 * kSecond).starts_with("revoked key"));
  EXPECT_EQ(keys_->get(key.record.id)->revoked_us, kNow + kSecond);
  ASSERT_TRUE(keys_->revoke(key.record.id, kNow + 5 * kSecond));  // again: the first time stays
  EXPECT_EQ(keys_->get(key.record.id)->revoked_us, kNow + kSecond);
  EXPECT_EQ(keys_->revoke("kk_0000000000000000", kNow).error().code, ErrorCode::kNotFound);
}

TEST_F(KeysTest, ARevocationThroughAnotherConnectionTakesEffectWithinTheCacheTime) {
  auto key = create("admin");
  ASSERT_TRUE(keys_->authenticate(key.token, kNow));
  ASSERT_TRUE(open()->revoke(key.record.id, kNow));
  EXPECT_TRUE(keys_->authenticate(key.token, kNow + kSecond));  // cached, as documented
  EXPECT_TRUE(auth_error(key.token, kNow + KeyStore::kCacheForUs).starts_with("revoked key"));
}

TEST_F(KeysTest, AKeyExpiresAtItsExpiry) {
  auto key = create("read", kNow + 10 * kSecond);
  EXPECT_TRUE(keys_->authenticate(key.token, kNow + 10 * kSecond - 1));
  EXPECT_TRUE(auth_error(key.token, kNow + 10 * kSecond).starts_with("expired key"));
}

TEST_F(KeysTest, RevokedAndExpiredAreOnlyToldToTheSecretsHolder) {
  auto key = create("read", kNow + 10 * kSecond);
  ASSERT_TRUE(keys_->revoke(key.record.id, kNow));
  auto parts = parse_token(key.token).value();
  std::string other_secret = parse_token(create("read").token)->secret;
  EXPECT_TRUE(auth_error(format_token(parts.id, other_secret), kNow + 20 * kSecond)
                  .starts_with("unknown key"));
}

TEST_F(KeysTest, LastUseIsWrittenAtMostOnceAMinute) {
  auto key = create("read");
  EXPECT_EQ(stored_last_use(key.record.id), std::nullopt);
  ASSERT_TRUE(keys_->authenticate(key.token, kNow));
  EXPECT_EQ(stored_last_use(key.record.id), kNow);
  ASSERT_TRUE(keys_->authenticate(key.token, kNow + 30 * kSecond));
  ASSERT_TRUE(keys_->authenticate(key.token, kNow + 59 * kSecond));
  EXPECT_EQ(stored_last_use(key.record.id), kNow);
  ASSERT_TRUE(keys_->authenticate(key.token, kNow + 60 * kSecond));
  EXPECT_EQ(stored_last_use(key.record.id), kNow + 60 * kSecond);
  // A new store (a restart) knows the last write and keeps to the minute as well.
  keys_ = open();
  ASSERT_TRUE(keys_->authenticate(key.token, kNow + 61 * kSecond));
  EXPECT_EQ(stored_last_use(key.record.id), kNow + 60 * kSecond);
}

TEST_F(KeysTest, ScopesTheServerCannotReadAllowNothing) {
  auto key = create("admin");
  auto db = store::Database::open(path_).value();
  ASSERT_TRUE(db->exec("UPDATE auth_keys SET scopes = 'admin,sudo:everything'"));
  keys_ = open();
  auto r = keys_->authenticate(key.token, kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->scopes.empty());
  EXPECT_FALSE(allows(r->scopes, Action::kRead, Resource::server()));
}

TEST_F(KeysTest, BadSpecsAreRefused) {
  auto scopes = parse_grants("read").value();
  auto code = [&](KeySpec spec) { return keys_->create(spec, kNow).error().code; };
  EXPECT_EQ(code({"", "", scopes, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({std::string(65, 'n'), "", scopes, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"n\n", "", scopes, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"n", "Acme", scopes, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"n", "", {}, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"n", "", scopes, kNow}), ErrorCode::kInvalidArgument);
  // A grant made in code that the grammar could not read back.
  Grant odd{Verb::kAdmin, true, ResourceKind::kBucket, "b"};
  EXPECT_EQ(code({"n", "", {odd}, {}}), ErrorCode::kInvalidArgument);
  auto tenant = keys_->create({"n", "bad\ntenant", scopes, {}}, kNow);
  ASSERT_FALSE(tenant);
  EXPECT_NE(tenant.error().message.find("tenant 'bad?tenant'"), std::string::npos);
  EXPECT_TRUE(keys_->list(std::nullopt)->empty());
}

TEST_F(KeysTest, CreateIfEmptyMakesOnlyTheFirstKey) {
  KeySpec spec{"admin", "", parse_grants("admin").value(), {}};
  auto first = keys_->create_if_empty(spec, kNow);
  ASSERT_TRUE(first && *first);
  auto second = keys_->create_if_empty(spec, kNow);
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);
  ASSERT_TRUE(keys_->revoke((*first)->record.id, kNow));
  EXPECT_FALSE(*keys_->create_if_empty(spec, kNow));  // a revoked key still counts
  EXPECT_EQ(keys_->list(std::nullopt)->size(), 1u);
}

TEST_F(KeysTest, ManyThreadsAuthenticateAtOnceWhileKeysAreRevoked) {
  std::vector<NewKey> good;
  for (int i = 0; i < 4; ++i) good.push_back(create("read"));
  auto doomed = create("read");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        int64_t now = kNow + (t * 500 + i) * kSecond;  // crosses many last-use minutes
        auto r = keys_->authenticate(good[static_cast<size_t>(i) % good.size()].token, now);
        if (!r || r->id != good[static_cast<size_t>(i) % good.size()].record.id) ++failures;
        std::string tampered = good[0].token;
        tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
        if (keys_->authenticate(tampered, now)) ++failures;
        (void)keys_->authenticate(doomed.token, now);
      }
    });
  }
  ASSERT_TRUE(keys_->revoke(doomed.record.id, kNow));
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(auth_error(doomed.token, kNow + kSecond).starts_with("revoked key"));
}

TEST_F(KeysTest, AnEphemeralKeyWorksUntilDroppedAndIsNeverStored) {
  auto made = keys_->create_ephemeral(KeySpec{"instance", "acme", parse_grants("read").value(), {}},
                                      kNow);
  ASSERT_TRUE(made) << made.error().message;
  auto who = keys_->authenticate(made->token, kNow);
  ASSERT_TRUE(who) << who.error().message;
  EXPECT_EQ(who->tenant, "acme");
  auto secret = keys_->secret(made->record.id, kNow);
  ASSERT_TRUE(secret);
  EXPECT_TRUE(made->token.ends_with(*secret));
  EXPECT_TRUE(keys_->list(std::nullopt)->empty());
  EXPECT_FALSE(open()->authenticate(made->token, kNow));  // another store: not on disk
  keys_->drop_ephemeral(made->record.id);
  EXPECT_FALSE(keys_->authenticate(made->token, kNow));
  EXPECT_FALSE(keys_->secret(made->record.id, kNow));
}

TEST_F(KeysTest, AStoredKeysSecretIsReadBackForSigV4AlsoAfterReopen) {
  auto key = create("read", std::nullopt, "acme");
  std::string secret = parse_token(key.token)->secret;
  EXPECT_EQ(keys_->secret(key.record.id, kNow).value(), secret);
  keys_ = open();
  auto signer = keys_->signer(key.record.id, kNow);
  ASSERT_TRUE(signer) << signer.error().message;
  EXPECT_EQ(signer->secret, secret);
  EXPECT_EQ(signer->record.tenant, "acme");
  EXPECT_EQ(to_string(signer->record.scopes), "read");
}

TEST_F(KeysTest, ASealedSecretIsNotInClearInTheDatabaseFile) {
  auto key = create("admin");
  ASSERT_TRUE(keys_->secret(key.record.id, kNow));
  std::string secret = parse_token(key.token)->secret;
  keys_.reset();
  std::string bytes = file_bytes();
  ASSERT_NE(bytes.find("v1:"), std::string::npos);  // the sealed column is there
  EXPECT_EQ(bytes.find(secret.substr(0, 12)), std::string::npos);
  EXPECT_EQ(bytes.find(to_hex(secret.substr(0, 12))), std::string::npos);
}

TEST_F(KeysTest, ATamperedSealedSecretIsRefusedButTheTokenStillWorks) {
  auto key = create("admin");
  keys_.reset();
  // One hex digit of the ciphertext changed.
  run_sql(
      "UPDATE auth_keys SET secret_sealed = substr(secret_sealed, 1, 30) || "
      "(CASE substr(secret_sealed, 31, 1) WHEN '0' THEN '1' ELSE '0' END) || "
      "substr(secret_sealed, 32)");
  keys_ = open();
  auto r = keys_->secret(key.record.id, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message.find("cannot sign AWS requests"), std::string::npos);
  EXPECT_TRUE(keys_->authenticate(key.token, kNow));
}

TEST_F(KeysTest, ASealedSecretMovedToAnotherKeyOrUnderAnotherServerKeyDoesNotOpen) {
  auto a = create("admin");
  auto b = create("read");
  keys_.reset();
  run_sql("UPDATE auth_keys SET secret_sealed = (SELECT secret_sealed FROM auth_keys WHERE id = '" +
          a.record.id + "') WHERE id = '" + b.record.id + "'");
  keys_ = open();
  EXPECT_TRUE(keys_->secret(a.record.id, kNow));
  EXPECT_FALSE(keys_->secret(b.record.id, kNow));
  keys_ = open_with(SealingKey::generate());
  EXPECT_FALSE(keys_->secret(a.record.id, kNow));
}

TEST_F(KeysTest, RevokedExpiredAndUnknownKeysHaveNoSecret) {
  auto revoked = create("admin");
  auto expiring = create("admin", kNow + kSecond);
  ASSERT_TRUE(keys_->secret(revoked.record.id, kNow));  // cached now
  ASSERT_TRUE(keys_->revoke(revoked.record.id, kNow));
  EXPECT_TRUE(keys_->secret(revoked.record.id, kNow).error().message.starts_with("revoked key"));
  EXPECT_TRUE(
      keys_->secret(expiring.record.id, kNow + kSecond).error().message.starts_with("expired key"));
  EXPECT_TRUE(keys_->secret("kk_0000000000000000", kNow).error().message.starts_with("unknown"));
  EXPECT_TRUE(keys_->secret("not an id", kNow).error().message.starts_with("unknown"));
}

TEST_F(KeysTest, AKeysTableMadeBeforeSealingGainsTheColumnAndItsKeysOnlyCannotSign) {
  keys_.reset();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  run_sql(R"sql(CREATE TABLE auth_keys (id TEXT PRIMARY KEY, tenant TEXT NOT NULL,
    name TEXT NOT NULL, scopes TEXT NOT NULL, salt TEXT NOT NULL, secret_sha256 TEXT NOT NULL,
    created_us INTEGER NOT NULL, last_used_us INTEGER, expires_us INTEGER, revoked_us INTEGER))sql");
  std::string salt(16, 's');
  std::string secret(kSecretLength, 'x');
  run_sql("INSERT INTO auth_keys VALUES ('kk_oldoldoldoldoldo', '', 'old', 'admin', '" +
          to_hex(salt) + "', '" + to_hex(salted_hash(salt, secret)) + "', 1, NULL, NULL, NULL)");
  keys_ = open();
  ASSERT_TRUE(keys_);
  EXPECT_TRUE(keys_->authenticate(format_token("kk_oldoldoldoldoldo", secret), kNow));
  auto r = keys_->secret("kk_oldoldoldoldoldo", kNow);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("make a new key"), std::string::npos);
  auto fresh = create("read");  // a key made now is sealed
  EXPECT_TRUE(keys_->secret(fresh.record.id, kNow));
}

}  // namespace
}  // namespace kumo::auth
