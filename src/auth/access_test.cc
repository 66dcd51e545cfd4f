#include "auth/access.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.h"

namespace kumo::auth {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'800'000'000'000'000;

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-access-" + new_short_id());
    fs::create_directories(dir_);
    keys_ = std::move(KeyStore::open((dir_ / "kumo.db").string()).value());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string bearer(const std::string& scopes, const std::string& tenant = "") {
    auto made = keys_->create(KeySpec{"k", tenant, parse_grants(scopes).value(), {}}, kNow);
    EXPECT_TRUE(made) << made.error().message;
    return "Bearer " + made->token;
  }

  fs::path dir_;
  std::unique_ptr<KeyStore> keys_;
  Access access_{nullptr};
  Access on() { return Access(keys_.get(), [] { return kNow; }); }
};

TEST_F(AccessTest, WithoutAKeyTheCallerIsUnauthenticated) {
  auto r = on().check("", Action::kRead, Resource::function(""));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(http::status_of(r.error().code), 401);
}

TEST_F(AccessTest, AWrongSchemeOrSecretIsUnauthenticated) {
  std::string good = bearer("admin");
  EXPECT_EQ(on().identify("Basic abc").error().code, ErrorCode::kUnauthenticated);
  std::string wrong = good;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(on().identify(wrong).error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(on().identify(good));
}

TEST_F(AccessTest, AKeyWithoutTheScopeIsDeniedNamingWhatItAsked) {
  std::string key = bearer("invoke:function/resize");
  EXPECT_TRUE(on().check(key, Action::kInvoke, Resource::function("resize")));
  auto r = on().check(key, Action::kDeploy, Resource::function("resize"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message.find("may not deploy function 'resize'"), std::string::npos);
  EXPECT_FALSE(on().check(key, Action::kInvoke, Resource::function("other")));
}

TEST_F(AccessTest, WithAuthenticationOffEveryoneIsTheOperatorsAdmin) {
  auto caller = access_.check("", Action::kAdmin, Resource::server());
  ASSERT_TRUE(caller);
  EXPECT_TRUE(caller->is_operator());
}

TEST_F(AccessTest, ATenantsNamesAreKeptUnderItsTenantAndTheDefaultTenantsArePlain) {
  Caller acme{"kk_1", "acme", {}};
  Caller plain{"kk_2", "default", {}};
  Caller op{"kk_3", "", {}};
  EXPECT_EQ(qualify(acme, "resize"), "acme~resize");
  EXPECT_EQ(qualify(plain, "resize"), "resize");
  EXPECT_EQ(qualify(op, "acme~resize"), "acme~resize");
  EXPECT_EQ(visible_name(acme, "acme~resize"), "resize");
  EXPECT_EQ(visible_name(acme, "resize"), std::nullopt);
  EXPECT_EQ(visible_name(plain, "acme~resize"), std::nullopt);
  EXPECT_EQ(visible_name(op, "acme~resize"), "acme~resize");
  EXPECT_EQ(tenant_of("acme~resize"), "acme");
  EXPECT_EQ(tenant_of("resize"), "default");
}

TEST_F(AccessTest, ATenantKeyCannotSpellAnotherTenantsName) {
  std::string key = bearer("admin", "acme");
  auto r = on().check(key, Action::kInvoke, Resource::function("globex~billing"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace kumo::auth
