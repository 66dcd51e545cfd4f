// Helpers for the tables unit tests: a temp SQLite path per test and a recording sink.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "events/sink.h"
#include "store/sqlite.h"

namespace kumo::tables::testing {

// A fresh database path for the running test (ctest runs tests in parallel).
inline std::string temp_db_path() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = ::testing::TempDir() + "kumo-tables-" + std::to_string(getpid()) + "-" +
                    info->test_suite_name() + "-" + info->name();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir + "/kumo.db";
}

// Records the table changes and topic messages it is given; fails while `failing` is set, as an events part
// whose disk is full would.
class RecordingSink final : public events::EventSink {
 public:
  Result<std::string> publish(const std::string& topic, events::Message message) override {
    std::lock_guard lock(mu);
    if (failing) return make_error(ErrorCode::kUnavailable, "sink unavailable");
    published.emplace_back(topic, std::move(message));
    return "1";
  }
  Result<int> object_changed(const events::ObjectEvent&) override { return 0; }
  Result<int> table_changed(const events::TableChange& change) override {
    std::lock_guard lock(mu);
    if (failing) return make_error(ErrorCode::kUnavailable, "sink unavailable");
    changes.push_back(change);
    return 1;
  }
  std::vector<events::TableChange> taken() {
    std::lock_guard lock(mu);
    return changes;
  }

  std::mutex mu;
  bool failing = false;                      // Guarded by mu.
  std::vector<events::TableChange> changes;  // Guarded by mu.
  std::vector<std::pair<std::string, events::Message>> published;  // Guarded by mu.
};

// As an older release left them: item 'deep' of table 't', 50,000 levels deep, and its
// insert in the outbox, written unchecked.
inline void store_deep_item_unchecked(const std::string& db_path) {
  std::string deep = R"({"a":)" + std::string(50'000, '[') + std::string(50'000, ']') + "}";
  auto db = store::Database::open(db_path).value();
  ASSERT_TRUE(db->exec("INSERT INTO tables_items (tbl, key, item, updated_us) VALUES ('t', "
                       "'deep', '" + deep + "', 1)"));
  ASSERT_TRUE(db->exec("INSERT INTO tables_changes (tbl, kind, key, old_item, new_item, at_us, "
                       "event_id) VALUES ('t', 'INSERT', 'deep', NULL, '" + deep + "', 1, 'e')"));
}

}  // namespace kumo::tables::testing
