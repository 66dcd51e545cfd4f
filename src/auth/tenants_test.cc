#include "auth/tenants.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.h"

namespace kumo::auth {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'800'000'000'000'000;  // a fixed wall time, in µs

class TenantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-tenants-" + new_short_id());
    fs::create_directories(dir_);
    path_ = (dir_ / "kumo.db").string();
    tenants_ = open(kNow);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<TenantStore> open(int64_t now) {
    auto store = TenantStore::open(path_, now);
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  std::vector<std::string> names() {
    std::vector<std::string> out;
    auto list = tenants_->list();
    EXPECT_TRUE(list) << list.error().message;
    for (const Tenant& t : list.value_or(std::vector<Tenant>{})) out.push_back(t.name);
    return out;
  }

  fs::path dir_;
  std::string path_;
  std::unique_ptr<TenantStore> tenants_;
};

TEST_F(TenantsTest, TheDefaultTenantAlwaysExistsAndCannotBeRemoved) {
  EXPECT_EQ(names(), std::vector<std::string>{"default"});
  EXPECT_TRUE(tenants_->exists("default").value());
  auto removed = tenants_->remove("default");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, ErrorCode::kInvalidArgument);
  auto again = tenants_->create("default", kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(TenantsTest, CreatedTenantsPersistWithTheirTimeAndListByName) {
  ASSERT_TRUE(tenants_->create("globex", kNow + 1));
  ASSERT_TRUE(tenants_->create("acme", kNow + 2));
  tenants_ = open(kNow + 100);  // reopening does not touch the times
  auto list = tenants_->list().value();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, "acme");
  EXPECT_EQ(list[0].created_us, kNow + 2);
  EXPECT_EQ(list[1].name, "default");
  EXPECT_EQ(list[1].created_us, kNow);
  EXPECT_EQ(list[2].name, "globex");
  EXPECT_TRUE(tenants_->exists("acme").value());
  EXPECT_FALSE(tenants_->exists("initech").value());
}

TEST_F(TenantsTest, ACreatedNameMustBeValidAndNew) {
  for (const char* bad : {"", "Acme", "-acme", "a~b", "a b", "a_b", "a/b"}) {
    auto made = tenants_->create(bad, kNow);
    ASSERT_FALSE(made) << bad;
    EXPECT_EQ(made.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_FALSE(tenants_->exists(bad).value()) << bad;
  }
  EXPECT_FALSE(tenants_->create(std::string(64, 'a'), kNow));
  ASSERT_TRUE(tenants_->create("acme", kNow));
  auto again = tenants_->create("acme", kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(TenantsTest, RemovedTenantIsGoneAndAnUnknownOneIsNotFound) {
  ASSERT_TRUE(tenants_->create("acme", kNow));
  ASSERT_TRUE(tenants_->remove("acme"));
  EXPECT_FALSE(tenants_->exists("acme").value());
  auto gone = tenants_->remove("acme");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(tenants_->remove("No Such").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace kumo::auth
