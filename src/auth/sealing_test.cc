#include "auth/sealing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/ids.h"

namespace kumo::auth {
namespace {

namespace fs = std::filesystem;

class SealingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-seal-" + new_short_id());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SealingTest, TheFirstStartMakesA0600KeyFileAndLaterStartsReadTheSameKey) {
  auto first = SealingKey::load_or_create(dir_.string());
  ASSERT_TRUE(first) << first.error().message;
  fs::path file = dir_ / kSealingKeyFile;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(fs::file_size(file), SealingKey::kBytes);
  std::string sealed = first->seal("the secret", "kk_a");
  auto again = SealingKey::load_or_create(dir_.string());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->open(sealed, "kk_a").value(), "the secret");
  EXPECT_EQ(fs::file_size(file), SealingKey::kBytes);
}

TEST_F(SealingTest, ADamagedKeyFileIsRefusedAndLeftAsItIs) {
  { std::ofstream(dir_ / kSealingKeyFile) << "short"; }
  auto key = SealingKey::load_or_create(dir_.string());
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("damaged"), std::string::npos);
  EXPECT_EQ(fs::file_size(dir_ / kSealingKeyFile), 5u);
}

TEST_F(SealingTest, ASealedValueOpensOnlyUnchangedUnderItsKeyAndContext) {
  SealingKey key = SealingKey::generate();
  std::string sealed = key.seal("secret", "kk_a");
  EXPECT_EQ(key.open(sealed, "kk_a").value(), "secret");
  EXPECT_NE(sealed, key.seal("secret", "kk_a"));  // a fresh nonce each time
  EXPECT_FALSE(key.open(sealed, "kk_b"));
  EXPECT_FALSE(SealingKey::generate().open(sealed, "kk_a"));
  for (size_t i = 3; i < sealed.size(); ++i) {
    std::string altered = sealed;
    altered[i] = altered[i] == '0' ? '1' : '0';
    auto r = key.open(altered, "kk_a");
    ASSERT_FALSE(r) << "altered at " << i;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  }
  EXPECT_FALSE(key.open("v1:00", "kk_a"));
  EXPECT_FALSE(key.open("v2:" + sealed.substr(3), "kk_a"));
  EXPECT_FALSE(key.open(sealed.substr(0, sealed.size() - 2), "kk_a"));
}

}  // namespace
}  // namespace kumo::auth
