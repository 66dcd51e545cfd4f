#include "auth/admin_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/ids.h"

namespace kumo::auth {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'800'000'000'000'000;

class AdminKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-admin-" + new_short_id());
    fs::create_directories(dir_);
    keys_ = std::move(KeyStore::open((dir_ / "kumo.db").string()).value());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  }

  fs::path dir_;
  std::unique_ptr<KeyStore> keys_;
};

TEST_F(AdminKeyTest, AFreshStoreGetsAnAdminKeyInAFileOnlyItsOwnerCanRead) {
  auto path = ensure_admin_key(*keys_, dir_.string(), kNow);
  ASSERT_TRUE(path) << path.error().message;
  ASSERT_TRUE(*path);
  EXPECT_EQ(**path, (dir_ / "admin.key").string());
  struct stat st {};
  ASSERT_EQ(::stat((*path)->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(S_ISREG(st.st_mode));

  auto key = keys_->authenticate(read(**path), kNow);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->tenant, "");
  EXPECT_EQ(key->name, "admin");
  EXPECT_TRUE(allows(key->scopes, Action::kAdmin, Resource::server()));
  // No temporary is left beside it.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST_F(AdminKeyTest, ASecondCallMakesNothing) {
  auto first = ensure_admin_key(*keys_, dir_.string(), kNow);
  ASSERT_TRUE(first && *first);
  std::string token = read(**first);
  auto second = ensure_admin_key(*keys_, dir_.string(), kNow);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(*second);
  EXPECT_EQ(read(**first), token);
  EXPECT_EQ(keys_->list(std::nullopt)->size(), 1u);
}

TEST_F(AdminKeyTest, AStaleFileFromAnEarlierStoreIsReplaced) {
  {
    std::ofstream old(dir_ / "admin.key");
    old << "kumo_kk_0000000000000000_stale\n";
  }
  fs::permissions(dir_ / "admin.key", fs::perms::all);  // even a loose one
  auto path = ensure_admin_key(*keys_, dir_.string(), kNow);
  ASSERT_TRUE(path && *path);
  struct stat st {};
  ASSERT_EQ(::stat((*path)->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(keys_->authenticate(read(**path), kNow));
}

TEST_F(AdminKeyTest, AnUnwritableDirectoryLeavesNoKeySoTheNextStartTriesAgain) {
  auto missing = (dir_ / "no-such-dir").string();
  auto path = ensure_admin_key(*keys_, missing, kNow);
  ASSERT_FALSE(path);
  EXPECT_NE(path.error().message.find("admin.key"), std::string::npos) << path.error().message;
  EXPECT_TRUE(keys_->list(std::nullopt)->empty());
  auto retry = ensure_admin_key(*keys_, dir_.string(), kNow);
  ASSERT_TRUE(retry && *retry);
}

}  // namespace
}  // namespace kumo::auth
