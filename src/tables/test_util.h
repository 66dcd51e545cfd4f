// Helpers for the tables unit tests: a temp SQLite path per test and a recording sink.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "events/sink.h"

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

// Records the table changes it is given; fails while `failing` is set, as an events part
// whose disk is full would.
class RecordingSink final : public events::EventSink {
 public:
  Result<std::string> publish(const std::string&, events::Message) override { return "1"; }
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
};

}  // namespace kumo::tables::testing
