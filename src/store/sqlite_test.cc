#include "store/sqlite.h"

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

}  // namespace
}  // namespace kumo::store
