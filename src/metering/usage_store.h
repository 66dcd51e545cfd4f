// UsageStore: the durable record of every finished invocation (one row per invocation in the
// `usage` table) and the per-function usage/billing report built from it.
//
// on_invocation() is on the scheduler's hot path: it only appends to an in-memory batch. A
// background writer thread owned by the store writes batches in one transaction each, every
// flush_interval or as soon as batch_size records wait. flush() and the destructor drain
// everything.
//
// Ownership: the store owns its Database connection and uses it from one thread at a time
// (a transaction must not interleave with another part's statements on a shared connection);
// open it on the server's metadata file or its own, WAL lets readers and writers coexist.
// Thread-safety: every public method is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "metering/billing.h"
#include "scheduler/scheduler.h"
#include "store/sqlite.h"

namespace kumo::metering {

struct UsageStoreOptions {
  std::chrono::milliseconds flush_interval{100};
  size_t batch_size = 1000;
  // When writes keep failing (disk full), at most this many records wait in memory; older
  // ones are dropped (and counted in dropped()) rather than growing without bound.
  size_t max_pending = 100'000;
};

// Usage of one function (or of all, in UsageReport::total) over the report's window.
struct FunctionUsage {
  std::string function;     // empty in the total
  int64_t invocations = 0;  // that reached an instance (throttles excluded)
  int64_t errors = 0;       // invocations whose outcome was not ok
  int64_t cold_starts = 0;  // invocations that waited for a new instance
  int64_t throttles = 0;    // requests that never reached an instance (not billed)
  double p50_ms = 0;        // duration percentiles (nearest rank) over the invocations
  double p99_ms = 0;
  double queue_p50_ms = 0;  // the same of their queue time (waiting, not billed)
  double queue_p99_ms = 0;
  int64_t billed_ms = 0;
  double gb_seconds = 0;
  double cost_usd = 0;  // gb_seconds and invocations at the report's prices
};

struct UsageReport {
  int64_t since_us = 0;
  std::vector<FunctionUsage> functions;  // sorted by name
  // Per tenant (a function TENANT~NAME is TENANT's, a plain one `default`'s,
  // common/tenant_name.h), sorted by tenant; `function` holds the tenant's name.
  std::vector<FunctionUsage> tenants;
  FunctionUsage total;
};

// {"since_us", "prices": {"per_gb_second", "per_million_requests"}, "functions": [...],
//  "tenants": [{"tenant", ...}], "total": {...}}; each usage object has the fields of
// FunctionUsage.
nlohmann::json to_json(const UsageReport& report, const Prices& prices);

class UsageStore final : public scheduler::InvocationObserver {
 public:
  // Takes the connection, creates the usage table if needed and starts the writer thread.
  static Result<std::unique_ptr<UsageStore>> open(std::unique_ptr<store::Database> db,
                                                  UsageStoreOptions options = {});
  // Opens (creating) the SQLite file at `path`.
  static Result<std::unique_ptr<UsageStore>> open(const std::string& path,
                                                  UsageStoreOptions options = {});
  // Stops the writer and writes what is still pending.
  ~UsageStore() override;
  UsageStore(const UsageStore&) = delete;
  UsageStore& operator=(const UsageStore&) = delete;

  // Queues one record; never blocks on the database.
  void on_invocation(const scheduler::InvocationRecord& record) override;

  // Writes every record queued before the call; on error they stay queued for a retry.
  Result<void> flush();

  // Usage of invocations that started at or after since_us (Unix epoch µs), including all
  // records observed before the call.
  // `include`, when given, picks the functions the report covers (one tenant's).
  using FunctionFilter = std::function<bool(std::string_view function)>;
  Result<UsageReport> report(int64_t since_us, const Prices& prices,
                             const FunctionFilter& include = nullptr);

  int64_t records_written() const { return written_.load(); }
  int64_t records_dropped() const { return dropped_.load(); }

 private:
  UsageStore(std::unique_ptr<store::Database> db, UsageStoreOptions options);
  void run_writer();
  Result<void> write_batch(const std::vector<scheduler::InvocationRecord>& batch);
  void requeue(std::vector<scheduler::InvocationRecord> batch);

  const UsageStoreOptions options_;
  std::mutex write_mu_;                  // Serializes use of db_; taken before mu_.
  std::unique_ptr<store::Database> db_;  // Guarded by write_mu_.

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<scheduler::InvocationRecord> pending_;  // Guarded by mu_.
  bool stop_ = false;                                 // Guarded by mu_.

  std::atomic<int64_t> written_{0};
  std::atomic<int64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace kumo::metering
