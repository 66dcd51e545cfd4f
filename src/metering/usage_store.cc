#include "metering/usage_store.h"

#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "metering/outcome.h"
#include "metering/usage_report.h"

namespace kumo::metering {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS usage (
  id          INTEGER PRIMARY KEY,
  function    TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  request_id  TEXT    NOT NULL,
  start_us    INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  billed_ms   INTEGER NOT NULL,
  memory_mb   INTEGER NOT NULL,
  gb_seconds  REAL    NOT NULL,
  cold_start  INTEGER NOT NULL,
  outcome     TEXT    NOT NULL,
  queue_us    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_by_start ON usage(start_us);
)sql";

constexpr const char* kInsert =
    "INSERT INTO usage (function, version, request_id, start_us, duration_us, billed_ms, "
    "memory_mb, gb_seconds, cold_start, outcome, queue_us) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

constexpr const char* kSelect =
    "SELECT function, duration_us, billed_ms, gb_seconds, cold_start, outcome, queue_us "
    "FROM usage WHERE start_us >= ?1";

void bind_record(store::Statement& st, const scheduler::InvocationRecord& r) {
  bool billed = is_billed(r.outcome);
  int64_t ms = billed ? billed_ms(r.duration_us) : 0;
  st.bind(1, std::string_view(r.function))
      .bind(2, static_cast<int64_t>(r.version))
      .bind(3, std::string_view(r.request_id))
      .bind(4, r.start_wall_us)
      .bind(5, r.duration_us)
      .bind(6, ms)
      .bind(7, static_cast<int64_t>(r.memory_mb))
      .bind(8, billed ? gb_seconds(ms, r.memory_mb) : 0.0)
      .bind(9, static_cast<int64_t>(r.cold_start ? 1 : 0))
      .bind(10, outcome_text(r.outcome))
      .bind(11, r.queue_us);
}

}  // namespace

Result<std::unique_ptr<UsageStore>> UsageStore::open(std::unique_ptr<store::Database> db,
                                                     UsageStoreOptions options) {
  if (auto r = db->exec(kSchema); !r) {
    return make_error(r.error().code, "cannot create the usage table: " + r.error().message);
  }
  return std::unique_ptr<UsageStore>(new UsageStore(std::move(db), options));
}

Result<std::unique_ptr<UsageStore>> UsageStore::open(const std::string& path,
                                                     UsageStoreOptions options) {
  auto db = store::Database::open(path);
  if (!db) return db.error();
  return open(std::move(*db), options);
}

UsageStore::UsageStore(std::unique_ptr<store::Database> db, UsageStoreOptions options)
    : options_(options), db_(std::move(db)) {
  writer_ = std::thread([this] { run_writer(); });
}

UsageStore::~UsageStore() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  writer_.join();
  if (auto r = flush(); !r) {
    std::lock_guard lock(mu_);
    spdlog::error("usage: {} records lost at shutdown: {}", pending_.size(), r.error().message);
  }
}

void UsageStore::on_invocation(const scheduler::InvocationRecord& record) {
  bool full = false;
  {
    std::lock_guard lock(mu_);
    pending_.push_back(record);
    full = pending_.size() >= options_.batch_size;
  }
  if (full) wake_.notify_one();
}

void UsageStore::run_writer() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, options_.flush_interval,
                   [this] { return stop_ || pending_.size() >= options_.batch_size; });
    if (stop_) return;  // the destructor drains what is left
    if (pending_.empty()) continue;
    lock.unlock();
    if (auto r = flush(); !r) {
      spdlog::warn("usage: write failed, will retry: {}", r.error().message);
    }
    lock.lock();
  }
}

Result<void> UsageStore::flush() {
  std::lock_guard write_lock(write_mu_);
  std::vector<scheduler::InvocationRecord> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return {};
  if (auto r = write_batch(batch); !r) {
    requeue(std::move(batch));
    return r;
  }
  written_ += static_cast<int64_t>(batch.size());
  return {};
}

Result<void> UsageStore::write_batch(const std::vector<scheduler::InvocationRecord>& batch) {
  if (auto r = db_->exec("BEGIN IMMEDIATE"); !r) return r;
  auto run_all = [&]() -> Result<void> {
    auto st = db_->prepare(kInsert);
    if (!st) return st.error();
    for (const auto& record : batch) {
      bind_record(*st, record);
      if (auto r = st->run(); !r) return r;
      st->reset();
    }
    return {};
  };
  auto r = run_all();
  if (r) r = db_->exec("COMMIT");
  if (!r) (void)db_->exec("ROLLBACK");
  return r;
}

void UsageStore::requeue(std::vector<scheduler::InvocationRecord> batch) {
  std::lock_guard lock(mu_);
  // The failed batch is older than what arrived meanwhile: it goes first.
  batch.insert(batch.end(), std::make_move_iterator(pending_.begin()),
               std::make_move_iterator(pending_.end()));
  pending_ = std::move(batch);
  if (pending_.size() > options_.max_pending) {
    auto excess = pending_.size() - options_.max_pending;
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(excess));
    dropped_ += static_cast<int64_t>(excess);
    spdlog::error("usage: dropped {} records that could not be written", excess);
  }
}

Result<UsageReport> UsageStore::report(int64_t since_us, const Prices& prices,
                                       const FunctionFilter& include) {
  if (auto r = flush(); !r) return r.error();
  std::lock_guard write_lock(write_mu_);
  auto st = db_->prepare(kSelect);
  if (!st) return st.error();
  st->bind(1, since_us);
  ReportBuilder builder;
  for (;;) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) break;
    std::string function = st->text(0);
    if (include && !include(function)) continue;
    auto outcome = parse_outcome(st->text(5));
    // A name this build does not know (a newer server wrote it) counts as an error.
    builder.add(UsageRow{std::move(function), st->int64(1), st->int64(2), st->real(3),
                         st->int64(4) != 0,
                         outcome.value_or(executor::Outcome::kError), st->int64(6)});
  }
  return std::move(builder).build(since_us, prices);
}

}  // namespace kumo::metering
