#include "metering/usage_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/ids.h"

namespace kumo::metering {
namespace {

namespace fs = std::filesystem;
using executor::Outcome;
using scheduler::InvocationRecord;

class UsageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-metering-" + new_short_id());
    fs::create_directories(dir_);
    path_ = (dir_ / "usage.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<UsageStore> open(UsageStoreOptions options = {}) {
    auto store = UsageStore::open(path_, options);
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  static InvocationRecord record(std::string fn, int64_t duration_us, int64_t start_us = 1000,
                                 Outcome outcome = Outcome::kOk, bool cold = false) {
    InvocationRecord r;
    r.function = std::move(fn);
    r.version = 1;
    r.request_id = new_request_id();
    r.start_wall_us = start_us;
    r.duration_us = duration_us;
    r.memory_mb = 128;
    r.cold_start = cold;
    r.outcome = outcome;
    return r;
  }

  static const FunctionUsage* find(const UsageReport& report, const std::string& fn) {
    for (const auto& f : report.functions) {
      if (f.function == fn) return &f;
    }
    return nullptr;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(UsageStoreTest, RecordsSurviveReopen) {
  {
    auto store = open();
    for (int i = 0; i < 3; ++i) store->on_invocation(record("resize", 1500));
    // No flush: the destructor must drain what is pending.
  }
  auto store = open();
  auto report = store->report(0, Prices{});
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->functions.size(), 1u);
  EXPECT_EQ(report->functions[0].function, "resize");
  EXPECT_EQ(report->functions[0].invocations, 3);
  EXPECT_EQ(report->functions[0].billed_ms, 6);
}

TEST_F(UsageStoreTest, ReportAggregatesPerFunctionWithExactPercentiles) {
  auto store = open();
  // 1..100 ms, fed in a scrambled order.
  for (int i = 0; i < 100; ++i) store->on_invocation(record("detect", ((i * 37) % 100 + 1) * 1000));
  store->on_invocation(record("resize", 1500, 1000, Outcome::kOk, /*cold=*/true));
  store->on_invocation(record("resize", 2500, 1000, Outcome::kTimeout));
  store->on_invocation(record("resize", 900, 1000, Outcome::kOom, /*cold=*/true));

  auto report = store->report(0, Prices{});
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->functions.size(), 2u);

  const FunctionUsage* detect = find(*report, "detect");
  ASSERT_NE(detect, nullptr);
  EXPECT_EQ(detect->invocations, 100);
  EXPECT_EQ(detect->errors, 0);
  EXPECT_DOUBLE_EQ(detect->p50_ms, 50.0);
  EXPECT_DOUBLE_EQ(detect->p99_ms, 99.0);
  EXPECT_EQ(detect->billed_ms, 5050);
  EXPECT_NEAR(detect->gb_seconds, 5.050 * 0.125, 1e-12);
  EXPECT_NEAR(detect->cost_usd, 5.050 * 0.125 * 0.0000166667 + 100 * 0.20 / 1e6, 1e-15);

  const FunctionUsage* resize = find(*report, "resize");
  ASSERT_NE(resize, nullptr);
  EXPECT_EQ(resize->invocations, 3);
  EXPECT_EQ(resize->errors, 2);
  EXPECT_EQ(resize->cold_starts, 2);
  EXPECT_DOUBLE_EQ(resize->p50_ms, 1.5);
  EXPECT_DOUBLE_EQ(resize->p99_ms, 2.5);
  EXPECT_EQ(resize->billed_ms, 2 + 3 + 1);

  EXPECT_EQ(report->total.invocations, 103);
  EXPECT_EQ(report->total.errors, 2);
  EXPECT_EQ(report->total.billed_ms, 5050 + 6);
  EXPECT_NEAR(report->total.cost_usd, detect->cost_usd + resize->cost_usd, 1e-18);
}

TEST_F(UsageStoreTest, ReportTotalsEachTenantAndCanCoverOneTenantOnly) {
  auto store = open();
  store->on_invocation(record("detect", 1000));        // the default tenant's
  store->on_invocation(record("acme~detect", 2000));
  store->on_invocation(record("acme~resize", 4000));
  store->on_invocation(record("globex~detect", 8000));

  auto all = store->report(0, Prices{});
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->tenants.size(), 3u);
  EXPECT_EQ(all->tenants[0].function, "acme");
  EXPECT_EQ(all->tenants[0].invocations, 2);
  EXPECT_EQ(all->tenants[0].billed_ms, 2 + 4);
  EXPECT_EQ(all->tenants[1].function, "default");
  EXPECT_EQ(all->tenants[1].invocations, 1);
  EXPECT_EQ(all->tenants[2].function, "globex");
  EXPECT_EQ(all->total.invocations, 4);
  auto j = to_json(*all, Prices{});
  EXPECT_EQ(j["tenants"][0]["tenant"], "acme");
  EXPECT_EQ(j["tenants"][0]["invocations"], 2);

  auto acme = store->report(0, Prices{}, [](std::string_view fn) {
    return fn.starts_with("acme~");
  });
  ASSERT_TRUE(acme) << acme.error().message;
  ASSERT_EQ(acme->functions.size(), 2u);
  EXPECT_EQ(acme->functions[0].function, "acme~detect");
  EXPECT_EQ(acme->functions[1].function, "acme~resize");
  EXPECT_EQ(acme->total.invocations, 2);
  EXPECT_EQ(acme->total.billed_ms, 6);
  ASSERT_EQ(acme->tenants.size(), 1u);
}

TEST_F(UsageStoreTest, ThrottlesAreRecordedButNotBilledOrCountedAsInvocations) {
  auto store = open();
  store->on_invocation(record("detect", 2000));
  store->on_invocation(record("detect", 30'000'000, 1000, Outcome::kThrottled, true));
  auto report = store->report(0, Prices{});
  ASSERT_TRUE(report) << report.error().message;
  const FunctionUsage* detect = find(*report, "detect");
  ASSERT_NE(detect, nullptr);
  EXPECT_EQ(detect->invocations, 1);
  EXPECT_EQ(detect->throttles, 1);
  EXPECT_EQ(detect->errors, 0);
  EXPECT_EQ(detect->cold_starts, 0);
  EXPECT_EQ(detect->billed_ms, 2);
  EXPECT_DOUBLE_EQ(detect->p99_ms, 2.0);
}

TEST_F(UsageStoreTest, QueueTimeIsReportedApartAndNeverBilled) {
  auto store = open();
  // Three one-second calls on one instance: the second and third waited 1 s and 2 s.
  for (int64_t queued_s : {0, 1, 2}) {
    InvocationRecord r = record("serial", 1'000'000);
    r.queue_us = queued_s * 1'000'000;
    store->on_invocation(r);
  }
  auto report = store->report(0, Prices{});
  ASSERT_TRUE(report) << report.error().message;
  const FunctionUsage* serial = find(*report, "serial");
  ASSERT_NE(serial, nullptr);
  EXPECT_EQ(serial->billed_ms, 3000);
  EXPECT_DOUBLE_EQ(serial->p99_ms, 1000.0);
  EXPECT_DOUBLE_EQ(serial->queue_p50_ms, 1000.0);
  EXPECT_DOUBLE_EQ(serial->queue_p99_ms, 2000.0);
  EXPECT_DOUBLE_EQ(report->total.queue_p99_ms, 2000.0);
}

TEST_F(UsageStoreTest, SinceFilterExcludesOlderInvocations) {
  auto store = open();
  store->on_invocation(record("old", 1000, 1'000));
  store->on_invocation(record("new", 1000, 5'000));
  store->on_invocation(record("new", 1000, 9'000));
  auto report = store->report(5'000, Prices{});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->since_us, 5'000);
  ASSERT_EQ(report->functions.size(), 1u);
  EXPECT_EQ(report->functions[0].function, "new");
  EXPECT_EQ(report->total.invocations, 2);
}

TEST_F(UsageStoreTest, ConcurrentObserversLoseNothing) {
  UsageStoreOptions options;
  options.batch_size = 64;  // so the writer runs while the threads still push
  options.flush_interval = std::chrono::milliseconds(1);
  auto store = open(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store->on_invocation(record("fn" + std::to_string(t), 1000 + i));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(store->flush());
  EXPECT_EQ(store->records_written(), kThreads * kPerThread);

  auto db = store::Database::open(path_);
  ASSERT_TRUE(db);
  auto st = (*db)->prepare("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM usage");
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->step().value_or(false));
  EXPECT_EQ(st->int64(0), kThreads * kPerThread);
  EXPECT_EQ(st->int64(1), kThreads * kPerThread);
}

TEST_F(UsageStoreTest, WriterFlushesAFullBatchWithoutBeingAsked) {
  UsageStoreOptions options;
  options.batch_size = 5;
  options.flush_interval = std::chrono::hours(1);
  auto store = open(options);
  for (int i = 0; i < 5; ++i) store->on_invocation(record("fn", 1000));
  // The writer is woken by the full batch, not by time; the deadline only bounds a hang.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (store->records_written() < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(store->records_written(), 5);
}

TEST_F(UsageStoreTest, FailedWriteKeepsRecordsForTheNextFlush) {
  UsageStoreOptions options;
  options.flush_interval = std::chrono::hours(1);
  auto store = open(options);
  auto other = store::Database::open(path_);
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->exec("ALTER TABLE usage RENAME TO usage_moved"));
  store->on_invocation(record("fn", 1000));
  auto failed = store->flush();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kInternal);
  ASSERT_TRUE((*other)->exec("ALTER TABLE usage_moved RENAME TO usage"));
  store->on_invocation(record("fn", 1000));
  ASSERT_TRUE(store->flush());
  auto report = store->report(0, Prices{});
  ASSERT_TRUE(report);
  EXPECT_EQ(report->total.invocations, 2);
  EXPECT_EQ(store->records_dropped(), 0);
}

TEST(UsageJson, HasTheDocumentedShape) {
  UsageReport report;
  report.since_us = 42;
  FunctionUsage f;
  f.function = "detect";
  f.invocations = 3;
  f.errors = 1;
  f.p50_ms = 1.5;
  f.billed_ms = 7;
  f.gb_seconds = 0.000875;
  report.functions.push_back(f);
  report.total = f;
  report.total.function.clear();
  auto j = to_json(report, Prices{});
  EXPECT_EQ(j["since_us"], 42);
  EXPECT_DOUBLE_EQ(j["prices"]["per_gb_second"].get<double>(), 0.0000166667);
  EXPECT_DOUBLE_EQ(j["prices"]["per_million_requests"].get<double>(), 0.20);
  ASSERT_EQ(j["functions"].size(), 1u);
  const auto& fj = j["functions"][0];
  for (const char* key : {"function", "invocations", "errors", "cold_starts", "p50_ms", "p99_ms",
                          "queue_p50_ms", "queue_p99_ms", "billed_ms", "gb_seconds", "cost_usd"}) {
    EXPECT_TRUE(fj.contains(key)) << key;
    if (std::string(key) != "function") {
      EXPECT_TRUE(j["total"].contains(key)) << key;
    }
  }
  EXPECT_EQ(fj["function"], "detect");
  EXPECT_EQ(fj["invocations"], 3);
  EXPECT_EQ(fj["billed_ms"], 7);
  EXPECT_DOUBLE_EQ(fj["p50_ms"].get<double>(), 1.5);
}

}  // namespace
}  // namespace kumo::metering
