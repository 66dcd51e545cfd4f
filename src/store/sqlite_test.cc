#include "store/sqlite.h"

#include <sys/mount.h>

#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/ids.h"

namespace kumo::store {
namespace {

TEST(Database, PersistsRowsAcrossReopen) {
  auto path = std::filesystem::temp_directory_path() / ("kumo_store_test_" + new_short_id() + ".db");
  std::filesystem::remove(path);
  {
    auto db = Database::open(path.string());
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE((*db)->exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)").has_value());
    auto ins = (*db)->prepare("INSERT INTO t VALUES (?, ?)");
    ASSERT_TRUE(ins.has_value());
    ASSERT_TRUE(ins->bind(1, std::string_view("a")).bind(2, int64_t{42}).run().has_value());
  }
  auto db = Database::open(path.string());
  ASSERT_TRUE(db.has_value());
  auto sel = (*db)->prepare("SELECT k, v FROM t");
  ASSERT_TRUE(sel.has_value());
  ASSERT_TRUE(*sel->step());
  EXPECT_EQ(sel->text(0), "a");
  EXPECT_EQ(sel->int64(1), 42);
  EXPECT_FALSE(*sel->step());
}

TEST(Database, ReportsBadSqlAsError) {
  auto db = Database::open(":memory:");
  ASSERT_TRUE(db.has_value());
  auto r = (*db)->prepare("SELEKT nonsense");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("syntax"), std::string::npos);
}

// A real full disk: a 2 MB tmpfs (mounting needs root; skipped without it).
class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kumo_full_" + new_short_id());
    std::filesystem::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=2m") != 0) {
      std::filesystem::remove(dir_);
      GTEST_SKIP() << "cannot mount a tmpfs here";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount(dir_.c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Writes a file until the disk is full.
  void fill() const {
    FILE* f = std::fopen((dir_ / "filler").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }
  std::filesystem::path dir_;
  bool mounted_ = false;
};

TEST_F(FullDisk, DeletesWorkThroughFreeingWhenTheDiskIsFull) {
  auto db = Database::open((dir_ / "k.db").string());
  ASSERT_TRUE(db.has_value());
  EXPECT_TRUE(std::filesystem::exists(dir_ / "k.db-reserve"));
  ASSERT_TRUE((*db)->exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)").has_value());
  for (int i = 0; i < 100; ++i) {
    auto ins = (*db)->prepare("INSERT INTO t VALUES (?, ?)");
    ASSERT_TRUE(ins->bind(1, int64_t{i}).bind(2, std::string_view(std::string(2000, 'v'))).run());
  }
  fill();
  auto del = [&](int64_t k) {
    return [&db, k]() -> Result<void> {
      auto st = (*db)->prepare("DELETE FROM t WHERE k = ?");
      if (!st) return st.error();
      return st->bind(1, k).run();
    };
  };

  auto plain = del(1)();  // what every delete met before the reserve
  ASSERT_FALSE(plain.has_value());
  EXPECT_TRUE(is_disk_full(plain.error())) << plain.error().message;
  auto freed = (*db)->freeing(del(2));
  EXPECT_TRUE(freed.has_value()) << freed.error().message;
  EXPECT_TRUE((*db)->freeing(del(3)).has_value());
  auto count = (*db)->prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(*count->step());
  EXPECT_EQ(count->int64(0), 98);
}

TEST_F(FullDisk, TheReserveComesBackOnceThereIsRoom) {
  auto db = Database::open((dir_ / "k.db").string());
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE((*db)->exec("CREATE TABLE t (k INTEGER PRIMARY KEY)").has_value());
  ASSERT_TRUE((*db)->exec("INSERT INTO t VALUES (1), (2)").has_value());
  fill();
  auto plain = (*db)->exec("DELETE FROM t WHERE k = 1");
  ASSERT_FALSE(plain.has_value());
  ASSERT_TRUE(is_disk_full(plain.error())) << plain.error().message;
  ASSERT_TRUE((*db)->freeing([&] { return (*db)->exec("DELETE FROM t WHERE k = 1"); }));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "k.db-reserve"));
  std::filesystem::remove(dir_ / "filler");
  ASSERT_TRUE((*db)->freeing([&] { return (*db)->exec("DELETE FROM t WHERE k = 2"); }));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "k.db-reserve"));
}

}  // namespace
}  // namespace kumo::store
