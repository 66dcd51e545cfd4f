// Events as the server wires it: the facade over a real SQLite file, with its dispatcher
// thread, and a scheduler that answers each invocation on its own thread. The decisions
// themselves are the dispatcher's, tested on a fake clock in dispatcher_test.cc; here only
// what needs the thread: it runs work queued after start(), writes back each end, wakes for
// a retry's due time, and stops. Waits are on conditions with generous deadlines.
#include "events/events.h"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/ids.h"
#include "events/triggers.h"

namespace kumo::events {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr auto kDeadline = std::chrono::seconds(30);  // generous: the machine may be loaded

// Answers each invocation on its own thread with what `respond` says.
class ScriptedScheduler final : public scheduler::Scheduler {
 public:
  using Respond = std::function<executor::Reply(const std::string&, const executor::Invocation&)>;

  explicit ScriptedScheduler(Respond respond) : respond_(std::move(respond)) {
    worker_ = std::thread([this] { run(); });
  }
  ~ScriptedScheduler() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  void configure(const scheduler::PoolConfig&) override {}
  void remove(const std::string&) override {}
  Result<void> invoke(const std::string& function, executor::Invocation inv,
                      executor::ReplyHandler handler) override {
    std::lock_guard lock(mu_);
    calls_.push_back({function, inv});
    queue_.push_back({function, std::move(inv), std::move(handler)});
    cv_.notify_all();
    return {};
  }
  scheduler::PoolStats stats(const std::string&) const override { return {}; }
  void tick() override {}
  void shutdown() override {}

  // The calls so far, once there are at least `n` (or the deadline passed).
  std::vector<std::pair<std::string, executor::Invocation>> wait_calls(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kDeadline, [&] { return calls_.size() >= n; });
    return calls_;
  }

 private:
  struct Call {
    std::string function;
    executor::Invocation inv;
    executor::ReplyHandler handler;
  };
  void run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Call c = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      c.handler.on_done(respond_(c.function, c.inv));
      lock.lock();
    }
  }

  Respond respond_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> queue_;
  std::vector<std::pair<std::string, executor::Invocation>> calls_;  // Guarded by mu_.
  bool stopping_ = false;
  std::thread worker_;
};

executor::Reply ok(std::string body) {
  executor::Reply r;
  r.body = std::move(body);
  return r;
}

registry::FunctionSpec spec(const std::string& name, json triggers = json::array(),
                            json async = json::object()) {
  registry::FunctionSpec s;
  s.name = name;
  s.handler = "main.handle";
  s.triggers = std::move(triggers);
  s.async = std::move(async);
  s.max_instances = 1;
  s.max_queue = 0;  // one invocation at the scheduler at a time
  return s;
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kumo-events-" + new_short_id());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    events_.reset();
    sched_.reset();
    std::filesystem::remove_all(dir_);
  }
  Events& open(ScriptedScheduler::Respond respond) {
    events_.reset();
    sched_ = std::make_unique<ScriptedScheduler>(std::move(respond));
    auto e = Events::open({(dir_ / "kumo.db").string(), json()}, *sched_);
    EXPECT_TRUE(e.has_value()) << e.error().message;
    events_ = std::move(*e);
    return *events_;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ScriptedScheduler> sched_;
  std::unique_ptr<Events> events_;
};

TEST_F(EventsTest, TheThreadRunsWorkQueuedAfterStartAndWritesBackEachEnd) {
  Events& ev = open([](const std::string&, const executor::Invocation& inv) {
    return ok(json{{"echo", json::parse(inv.payload)}}.dump());
  });
  ev.configure(spec("echo"));
  ev.start();
  auto first = ev.invoke_async({"echo", R"({"n": 7})", "", "api"});
  auto second = ev.invoke_async({"echo", R"({"n": 8})", "", "api"});
  ASSERT_TRUE(first.has_value() && second.has_value());
  // With room for one at a time, the second is sent only after the first's end is written.
  auto calls = sched_->wait_calls(2);
  ASSERT_EQ(calls.size(), 2u);
  json done = *ev.invocation(*first);
  EXPECT_EQ(done["state"], "succeeded");
  EXPECT_EQ(done["result"]["echo"]["n"], 7);
  ev.stop();
}

TEST_F(EventsTest, TheThreadWakesForARetryWithNothingElseToDo) {
  std::atomic<int> calls{0};
  Events& ev = open([&calls](auto&, auto&) {
    executor::Reply r;
    if (calls++ == 0) {
      r.outcome = executor::Outcome::kError;
      r.error_type = "Flaky";
    }
    return r;
  });
  ev.configure(spec("flaky", json::array(), {{"retries", 1}, {"backoff", "10ms"}}));
  ev.start();
  auto id = ev.invoke_async({"flaky", "{}", "", "api"});
  ASSERT_TRUE(id.has_value());
  auto seen = sched_->wait_calls(2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].second.attempt, 2);
}

TEST_F(EventsTest, StopReturnsWhileTheThreadWaitsAndAStartedServerCanBeReopened) {
  Events& ev = open([](auto&, auto&) { return ok("{}"); });
  ev.configure(spec("tick", json::array({{{"schedule", {{"cron", "@daily"}}}}})));
  ev.start();
  ev.stop();  // the thread waits for tomorrow's tick; stop() must not
  Events& again = open([](auto&, auto&) { return ok("{}"); });
  again.configure(spec("echo"));
  again.start();
  ASSERT_TRUE(again.invoke_async({"echo", "{}", "", "api"}).has_value());
  EXPECT_EQ(sched_->wait_calls(1).size(), 1u);
}

TEST_F(EventsTest, AnUnknownFunctionIsNotQueued) {
  Events& ev = open([](auto&, auto&) { return ok("{}"); });
  auto id = ev.invoke_async({"nope", "{}", "", "api"});
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, ErrorCode::kNotFound);
}

TEST_F(EventsTest, ObjectEventsGoToMatchingStorageTriggersOnly) {
  Events& ev = open([](auto&, auto&) { return ok("{}"); });
  ev.configure(spec("images", json::array({{{"storage", {{"bucket", "up"},
                                                         {"prefix", "img/"},
                                                         {"suffix", ".png"}}}}})));
  ev.configure(spec("deletes", json::array({{{"storage", {{"bucket", "up"},
                                                          {"events", {"deleted"}}}}}})));
  auto event = [](ObjectEvent::Kind kind, std::string key) {
    return ObjectEvent{kind, "up", key, json{{"s3", {{"object", {{"key", key}}}}}}};
  };
  EXPECT_EQ(ev.object_changed(event(ObjectEvent::Kind::kCreated, "img/a.png")).value(), 1);
  EXPECT_EQ(ev.object_changed(event(ObjectEvent::Kind::kCreated, "img/a.jpg")).value(), 0);
  EXPECT_EQ(ev.object_changed(event(ObjectEvent::Kind::kCreated, "doc/a.png")).value(), 0);
  EXPECT_EQ(ev.object_changed(event(ObjectEvent::Kind::kRemoved, "img/a.png")).value(), 1);
  ObjectEvent other = event(ObjectEvent::Kind::kCreated, "img/a.png");
  other.bucket = "other";
  EXPECT_EQ(ev.object_changed(other).value(), 0);
}

TEST_F(EventsTest, TableChangesGoToTriggersForThatTableAndKind) {
  Events& ev = open([](auto&, auto&) { return ok("{}"); });
  ev.configure(spec("audit", json::array({{{"table", {{"name", "orders"},
                                                      {"events", {"insert", "delete"}}}}}})));
  auto change = [](TableChange::Kind kind, std::string table) {
    return TableChange{kind, table, json{{"eventName", "X"}}};
  };
  EXPECT_EQ(ev.table_changed(change(TableChange::Kind::kInsert, "orders")).value(), 1);
  EXPECT_EQ(ev.table_changed(change(TableChange::Kind::kModify, "orders")).value(), 0);
  EXPECT_EQ(ev.table_changed(change(TableChange::Kind::kRemove, "orders")).value(), 1);
  EXPECT_EQ(ev.table_changed(change(TableChange::Kind::kInsert, "users")).value(), 0);
}

TEST_F(EventsTest, ATenantsTriggerFiresOnlyForItsOwnTenantsBucketAndTable) {
  Events& ev = open([](auto&, auto&) { return ok("{}"); });
  ev.configure(spec("acme~audit", json::array({{{"table", {{"name", "acme~orders"}}}},
                                               {{"storage", {{"bucket", "acme~up"}}}}})));
  auto change = [](std::string table) {
    return TableChange{TableChange::Kind::kInsert, table, json{{"eventName", "INSERT"}}};
  };
  auto object = [](std::string bucket) {
    return ObjectEvent{ObjectEvent::Kind::kCreated, bucket, "k", json::object()};
  };
  EXPECT_EQ(ev.table_changed(change("orders")).value(), 0);       // the default tenant's
  EXPECT_EQ(ev.table_changed(change("globex~orders")).value(), 0);
  EXPECT_EQ(ev.table_changed(change("acme~orders")).value(), 1);
  EXPECT_EQ(ev.object_changed(object("up")).value(), 0);
  EXPECT_EQ(ev.object_changed(object("globex~up")).value(), 0);
  EXPECT_EQ(ev.object_changed(object("acme~up")).value(), 1);
}

TEST(Triggers, ReportTheFieldAtFault) {
  auto bad_cron = parse_triggers(json::array({{{"schedule", {{"cron", "61 * * * *"}}}}}), {});
  ASSERT_FALSE(bad_cron.has_value());
  EXPECT_NE(bad_cron.error().message.find("triggers[0].schedule.cron"), std::string::npos)
      << bad_cron.error().message;
  auto bad_topic = parse_triggers(json::array({{{"queue", {{"topic", "no spaces"}}}}}), {});
  ASSERT_FALSE(bad_topic.has_value());
  EXPECT_NE(bad_topic.error().message.find("triggers[0].queue.topic"), std::string::npos);
  auto bad_batch = parse_triggers(json::array({{{"queue", {{"topic", "t"},
                                                            {"batch_size", 0}}}}}), {});
  ASSERT_FALSE(bad_batch.has_value());
  EXPECT_NE(bad_batch.error().message.find("batch_size"), std::string::npos);
  auto bad_retries = parse_triggers(json::array(), {{"retries", 11}});
  ASSERT_FALSE(bad_retries.has_value());
  EXPECT_NE(bad_retries.error().message.find("async.retries"), std::string::npos);
  auto unknown = parse_triggers(json::array({{{"storage", {{"bucket", "b"},
                                                           {"events", {"renamed"}}}}}}), {});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("unknown event 'renamed'"), std::string::npos);
}

TEST(Triggers, TopicNamesMayCarryTheirTenant) {
  EXPECT_TRUE(valid_topic_name("jobs"));
  EXPECT_TRUE(valid_topic_name("acme~jobs"));
  for (const char* bad : {"~jobs", "acme~", "Acme~jobs", "a~b~jobs", "acme~.jobs", "acme~no way"}) {
    EXPECT_FALSE(valid_topic_name(bad)) << bad;
  }
  auto t = parse_triggers(json::array({{{"queue", {{"topic", "acme~jobs"}}}}}),
                          {{"dead_letter", "acme~failed"}});
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->queues[0].topic, "acme~jobs");
  EXPECT_EQ(t->async.dead_letter, "acme~failed");
}

TEST(Triggers, FillDefaults) {
  auto t = parse_triggers(json::array({{{"queue", {{"topic", "jobs"}}}},
                                       {{"storage", {{"bucket", "b"}}}}}),
                          json());
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->queues[0].batch_size, 1);
  EXPECT_TRUE(t->storage[0].created);
  EXPECT_FALSE(t->storage[0].deleted);
  EXPECT_EQ(t->async.retries, 2);
  EXPECT_EQ(t->async.dead_letter, "dead-letters");
}

TEST(Triggers, RetryDelaysGrowAndSpread) {
  for (int i = 0; i < 50; ++i) {
    auto first = retry_delay(milliseconds(1000), 2);
    auto third = retry_delay(milliseconds(1000), 4);
    EXPECT_GE(first, milliseconds(500));
    EXPECT_LT(first, milliseconds(1500));
    EXPECT_GE(third, milliseconds(2000));
    EXPECT_LT(third, milliseconds(6000));
  }
  EXPECT_LE(retry_delay(milliseconds(60'000), 30), milliseconds(450'000));
}

}  // namespace
}  // namespace kumo::events
