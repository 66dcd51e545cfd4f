#include "auth/instance_identity.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "auth/access.h"
#include "common/ids.h"

namespace kumo::auth {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'800'000'000'000'000;

class InstanceIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-identity-" + new_short_id());
    fs::create_directories(dir_);
    keys_ = std::move(KeyStore::open((dir_ / "kumo.db").string()).value());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::unique_ptr<KeyStore> keys_;
  InstanceIdentities make(KeyStore* keys) {
    return InstanceIdentities(keys, kDefaultRegion, [] { return kNow; });
  }
};

TEST_F(InstanceIdentityTest, GivesAnInstanceAKeyWithExactlyTheFunctionsPermissions) {
  InstanceIdentities ids = make(keys_.get());
  auto env = ids.issue("resize", "read:bucket/in, write:bucket/out", "i1", "http://127.0.0.1:9");
  ASSERT_TRUE(env) << env.error().message;
  auto key = keys_->authenticate(env->at("KUMO_API_KEY"), kNow);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->tenant, "default");
  EXPECT_EQ(key->name, "instance resize i1");
  EXPECT_EQ(to_string(key->scopes), "read:bucket/in,write:bucket/out");
  EXPECT_TRUE(allows(key->scopes, Action::kWrite, Resource::bucket("out")));
  EXPECT_FALSE(allows(key->scopes, Action::kWrite, Resource::bucket("in")));
  // The AWS pair is the same key: its id and the token's secret, which SigV4 looks up.
  EXPECT_EQ(env->at("AWS_ACCESS_KEY_ID"), key->id);
  EXPECT_EQ(keys_->secret(key->id, kNow).value(), env->at("AWS_SECRET_ACCESS_KEY"));
  EXPECT_EQ(env->at("AWS_SESSION_TOKEN"), key->id);
  EXPECT_EQ(env->at("AWS_REGION"), "us-east-1");
  EXPECT_EQ(env->at("AWS_DEFAULT_REGION"), "us-east-1");
  EXPECT_EQ(env->at("AWS_ENDPOINT_URL"), "http://127.0.0.1:9");
  EXPECT_EQ(env->at("AWS_ENDPOINT_URL_S3"), "http://127.0.0.1:9/s3");
}

TEST_F(InstanceIdentityTest, ReleaseEndsTheKeyAtOnce) {
  InstanceIdentities ids = make(keys_.get());
  auto env = ids.issue("resize", "read", "i1", "");
  ASSERT_TRUE(env);
  EXPECT_EQ(ids.live(), 1u);
  ids.release("i1");
  EXPECT_EQ(ids.live(), 0u);
  auto gone = keys_->authenticate(env->at("KUMO_API_KEY"), kNow);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kUnauthenticated);
  EXPECT_FALSE(keys_->secret(env->at("AWS_ACCESS_KEY_ID"), kNow));
  ids.release("i1");  // twice, or unknown: nothing
  ids.release("never");
}

TEST_F(InstanceIdentityTest, EachInstanceGetsAKeyOfItsOwn) {
  InstanceIdentities ids = make(keys_.get());
  auto a = ids.issue("resize", "read", "i1", "");
  auto b = ids.issue("resize", "read", "i2", "");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->at("KUMO_API_KEY"), b->at("KUMO_API_KEY"));
  EXPECT_NE(a->at("AWS_ACCESS_KEY_ID"), b->at("AWS_ACCESS_KEY_ID"));
  ids.release("i1");
  EXPECT_FALSE(keys_->authenticate(a->at("KUMO_API_KEY"), kNow));
  EXPECT_TRUE(keys_->authenticate(b->at("KUMO_API_KEY"), kNow));
}

TEST_F(InstanceIdentityTest, ATenantsFunctionActsInItsTenant) {
  InstanceIdentities ids = make(keys_.get());
  auto env = ids.issue("acme~resize", "write:bucket/out", "i1", "");
  ASSERT_TRUE(env);
  auto key = keys_->authenticate(env->at("KUMO_API_KEY"), kNow).value();
  EXPECT_EQ(key.tenant, "acme");
  EXPECT_EQ(key.name, "instance resize i1");
  Caller caller{key.id, key.tenant, key.scopes};
  EXPECT_EQ(qualify(caller, "out"), "acme~out");
}

TEST_F(InstanceIdentityTest, AFunctionWithoutPermissionsGetsNoCredentialAtAll) {
  InstanceIdentities ids = make(keys_.get());
  auto env = ids.issue("resize", "", "i1", "http://127.0.0.1:9");
  ASSERT_TRUE(env);
  EXPECT_TRUE(env->empty());
  EXPECT_EQ(ids.live(), 0u);
}

TEST_F(InstanceIdentityTest, RefusesAdminAndBadGrants) {
  InstanceIdentities ids = make(keys_.get());
  EXPECT_EQ(ids.issue("resize", "admin", "i1", "").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ids.issue("resize", "fly", "i1", "").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ids.live(), 0u);
}

TEST_F(InstanceIdentityTest, ALongFunctionNameIsShortenedToFitTheKeysName) {
  InstanceIdentities ids = make(keys_.get());
  std::string name(63, 'f');
  auto env = ids.issue(name, "read", "0123456789abcdef", "");
  ASSERT_TRUE(env) << env.error().message;
  auto key = keys_->authenticate(env->at("KUMO_API_KEY"), kNow).value();
  EXPECT_LE(key.name.size(), 64u);
  EXPECT_TRUE(key.name.ends_with(" 0123456789abcdef"));
}

TEST_F(InstanceIdentityTest, WithoutAuthenticationSdksGetAPlaceholderKey) {
  InstanceIdentities ids = make(nullptr);
  auto env = ids.issue("resize", "read", "i1", "http://127.0.0.1:9");
  ASSERT_TRUE(env);
  EXPECT_FALSE(env->contains("KUMO_API_KEY"));
  EXPECT_FALSE(env->at("AWS_ACCESS_KEY_ID").empty());
  EXPECT_EQ(env->at("AWS_ENDPOINT_URL_S3"), "http://127.0.0.1:9/s3");
  ids.release("i1");
}

}  // namespace
}  // namespace kumo::auth
