// PostgresWatcher: delivers the row changes of one PostgreSQL table as table change records.
//
// On (re)connecting it installs, idempotently, the kumo_changes outbox and the kumo_capture
// row trigger on the table (postgres_schema.h) and LISTENs on the kumo_changes channel. It
// then delivers the table's recorded changes in id order: each goes to
// EventSink::table_changed() and is deleted from kumo_changes once the sink accepted it. It
// sweeps when a NOTIFY arrives and every sweep_interval in any case, so nothing depends on a
// notification arriving. When the database goes away it reconnects with backoff; when the
// sink fails it retries the same change with backoff. Delivery is at least once.
//
// Owns one libpq connection and one thread. Thread-safety: start()/stop() from the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "events/sink.h"
#include "tables/change_record.h"
#include "tables/config.h"

namespace kumo::tables {

struct WatcherOptions {
  std::chrono::milliseconds sweep_interval{1000};
  std::chrono::milliseconds first_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

// One kumo_changes row as read from the database.
struct PgChangeRow {
  int64_t id = 0;
  std::string op;        // INSERT, UPDATE or DELETE
  std::string old_json;  // empty when NULL
  std::string new_json;
  int64_t at_seconds = 0;
  std::string event_id;
};

// The change record for a row of `source` (pure; exposed for tests). kInvalidArgument when
// the row's JSON is unreadable or its op unknown.
Result<ChangeRecord> record_from_row(const PostgresSource& source, const PgChangeRow& row);

class PostgresWatcher {
 public:
  PostgresWatcher(PostgresSource source, events::EventSink& sink, WatcherOptions options = {});
  ~PostgresWatcher();  // stops
  PostgresWatcher(const PostgresWatcher&) = delete;
  PostgresWatcher& operator=(const PostgresWatcher&) = delete;

  void start();
  void stop();  // wakes the thread and joins it

 private:
  class Connection;
  struct Sweep {
    enum Outcome { kDone, kSinkFailed, kConnectionLost } outcome;
    Error error;
  };
  void run();
  Result<std::unique_ptr<Connection>> connect();
  Result<std::string> install(Connection& conn);
  Sweep sweep(Connection& conn, const std::string& recorded);
  // An unreadable change (say, nested deeper than kMaxJsonDepth) to the dead-letter topic.
  Result<void> dead_letter(const PgChangeRow& row, const std::string& reason);
  void serve(Connection& conn, const std::string& recorded);
  // Waits up to `timeout` for a notification or stop(); false when stopping.
  bool wait(Connection* conn, std::chrono::milliseconds timeout);
  bool sleep(std::chrono::milliseconds timeout) { return wait(nullptr, timeout); }

  const PostgresSource source_;
  events::EventSink& sink_;
  const WatcherOptions options_;
  int wake_fds_[2] = {-1, -1};  // a pipe: stop() writes to wake the thread's poll()
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kumo::tables
