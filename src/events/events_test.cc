// Events against a real SQLite file and a scripted scheduler (the function's answers are the
// test's; the queue, retries, batches and dead letters are the real code).
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
    cv_.notify_one();
    worker_.join();
  }
  void configure(const scheduler::PoolConfig&) override {}
  void remove(const std::string&) override {}
  Result<void> invoke(const std::string& function, executor::Invocation inv,
                      executor::ReplyHandler handler) override {
    std::lock_guard lock(mu_);
    calls_.push_back({function, inv});
    if (!hold_) queue_.push_back({function, std::move(inv), std::move(handler)});
    cv_.notify_one();
    return {};
  }
  scheduler::PoolStats stats(const std::string&) const override { return {}; }
  void tick() override {}
  void shutdown() override {}

  void hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  std::vector<std::pair<std::string, executor::Invocation>> calls() const {
    std::lock_guard lock(mu_);
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
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> queue_;
  std::vector<std::pair<std::string, executor::Invocation>> calls_;
  bool hold_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

executor::Reply ok(std::string body) {
  executor::Reply r;
  r.body = std::move(body);
  return r;
}

executor::Reply error(std::string type, std::string message) {
  executor::Reply r;
  r.outcome = executor::Outcome::kError;
  r.error_type = std::move(type);
  r.error_message = std::move(message);
  return r;
}

registry::FunctionSpec spec(const std::string& name, json triggers = json::array(),
                            json async = json::object()) {
  registry::FunctionSpec s;
  s.name = name;
  s.handler = "main.handle";
  s.triggers = std::move(triggers);
  s.async = std::move(async);
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
  // Polls the invocation until it reaches `state` (or 5 s pass).
  json wait_state(const std::string& id, const std::string& state) {
    json last;
    for (int i = 0; i < 500; ++i) {
      auto j = events_->invocation(id);
      if (j) last = *j;
      if (j && (*j)["state"] == state) return *j;
      std::this_thread::sleep_for(milliseconds(10));
    }
    ADD_FAILURE() << "never reached " << state << ": " << last.dump();
    return last;
  }
  json wait_messages(const std::string& topic, size_t n) {
    json last;
    for (int i = 0; i < 500; ++i) {
      auto j = events_->messages(topic, 0, 100);
      if (j) last = (*j)["messages"];
      if (last.size() >= n) return last;
      std::this_thread::sleep_for(milliseconds(10));
    }
    ADD_FAILURE() << "topic " << topic << " has " << last.size() << " messages";
    return last;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ScriptedScheduler> sched_;
  std::unique_ptr<Events> events_;
};

TEST_F(EventsTest, AnAsyncInvocationRunsAndKeepsItsResult) {
  Events& ev = open([](const std::string&, const executor::Invocation& inv) {
    return ok(json{{"echo", json::parse(inv.payload)}}.dump());
  });
  ev.configure(spec("echo"));
  ev.start();
  auto id = ev.invoke_async({"echo", R"({"n": 7})", "", "api"});
  ASSERT_TRUE(id.has_value());
  json done = wait_state(*id, "succeeded");
  EXPECT_EQ(done["result"]["echo"]["n"], 7);
  EXPECT_EQ(done["attempts"], 1);
}

TEST_F(EventsTest, AResultNestedTooDeepIsTheFunctionsErrorAndADeepPayloadIsKeptAsText) {
  // Before the bound, dumping either for the dead letter or the status overflowed the stack.
  std::string deep = std::string(50'000, '[') + std::string(50'000, ']');
  Events& ev = open([deep](auto&, auto&) { return ok(deep); });
  ev.configure(spec("deep", json::array(), {{"retries", 0}}));
  ev.start();
  auto id = ev.invoke_async({"deep", deep, "", "api"});
  ASSERT_TRUE(id.has_value());
  json dead = wait_state(*id, "dead");
  EXPECT_EQ(dead["error"]["type"], "Runtime.MarshalError");
  EXPECT_EQ(dead["error"]["message"], "the function's result: JSON nesting deeper than 128 levels");
  json letters = wait_messages("dead-letters", 1);
  json letter = json::parse(letters[0]["body"].get<std::string>());
  EXPECT_EQ(letter["payload"], deep);
}

TEST_F(EventsTest, AnUnknownFunctionIsNotQueued) {
  Events& ev = open([](auto&, auto&) { return ok("{}"); });
  auto id = ev.invoke_async({"nope", "{}", "", "api"});
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, ErrorCode::kNotFound);
}

TEST_F(EventsTest, FailuresAreRetriedThenGoToTheDeadLetterTopicAndOnFailure) {
  Events& ev = open([](const std::string& fn, const executor::Invocation&) {
    return fn == "alert" ? ok("null") : error("ValueError", "bad input");
  });
  ev.configure(spec("flaky", json::array(), {{"retries", 2}, {"backoff", "10ms"},
                                             {"on_failure", "alert"}}));
  ev.configure(spec("alert"));
  ev.start();
  auto id = ev.invoke_async({"flaky", R"({"order": 42})", "", "api"});
  ASSERT_TRUE(id.has_value());
  json dead = wait_state(*id, "dead");
  EXPECT_EQ(dead["attempts"], 3);
  EXPECT_EQ(dead["error"]["type"], "ValueError");
  EXPECT_EQ(dead["error"]["message"], "bad input");

  json letters = wait_messages("dead-letters", 1);
  json letter = json::parse(letters[0]["body"].get<std::string>());
  EXPECT_EQ(letter["request_id"], *id);
  EXPECT_EQ(letter["payload"]["order"], 42);

  // The on_failure function got Lambda's destination record.
  for (int i = 0; i < 200; ++i) {
    bool seen = false;
    for (const auto& [fn, inv] : sched_->calls()) seen = seen || fn == "alert";
    if (seen) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  std::vector<int> attempts;
  json record;
  for (const auto& [fn, inv] : sched_->calls()) {
    if (fn == "flaky") attempts.push_back(inv.attempt);
    if (fn == "alert") record = json::parse(inv.payload);
  }
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(record["requestContext"]["condition"], "RetriesExhausted");
  EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 3);
  EXPECT_EQ(record["requestPayload"]["order"], 42);
  EXPECT_EQ(record["responsePayload"]["errorType"], "ValueError");
}

TEST_F(EventsTest, AThrottledAttemptDoesNotCount) {
  std::atomic<int> calls{0};
  Events& ev = open([&calls](auto&, auto&) {
    executor::Reply r;
    if (calls++ < 3) r.outcome = executor::Outcome::kThrottled;
    return r;
  });
  ev.configure(spec("busy", json::array(), {{"retries", 0}}));
  ev.start();
  auto id = ev.invoke_async({"busy", "{}", "", "api"});
  json done = wait_state(*id, "succeeded");
  EXPECT_EQ(done["attempts"], 1);
  EXPECT_EQ(calls.load(), 4);
}

TEST_F(EventsTest, WhatWasRunningWhenTheServerDiedRunsAfterTheRestart) {
  Events& first = open([](auto&, auto&) { return ok("1"); });
  sched_->hold();  // the function never answers: the server "dies" mid-invocation
  first.configure(spec("work"));
  first.start();
  auto running = first.invoke_async({"work", "{}", "", "api"});
  wait_state(*running, "running");
  first.stop();
  events_.reset();

  Events& second = open([](auto&, auto&) { return ok("2"); });
  second.configure(spec("work"));
  second.start();
  json done = wait_state(*running, "succeeded");
  EXPECT_EQ(done["result"], 2);
  EXPECT_EQ(done["attempts"], 1);
}

TEST_F(EventsTest, TopicMessagesArriveInBatches) {
  std::mutex mu;
  std::vector<size_t> sizes;
  std::vector<std::string> bodies;
  Events& ev = open([&](auto&, const executor::Invocation& inv) {
    json e = json::parse(inv.payload);
    std::lock_guard lock(mu);
    sizes.push_back(e["Records"].size());
    for (const auto& r : e["Records"]) bodies.push_back(r["body"]);
    return ok("{}");
  });
  ev.configure(spec("sink", json::array({{{"queue",
                                           {{"topic", "jobs"}, {"batch_size", 2},
                                            {"batch_window", "200ms"}}}}})));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ev.publish("jobs", {fmt::format("m{}", i), {{"k", "v"}}}).has_value());
  }
  ev.start();
  for (int i = 0; i < 300 && bodies.size() < 5; ++i) std::this_thread::sleep_for(milliseconds(10));
  std::lock_guard lock(mu);
  EXPECT_EQ(bodies, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
}

TEST_F(EventsTest, OnlyTheBatchItemsReportedFailedAreRetried) {
  std::mutex mu;
  std::vector<std::vector<std::string>> batches;
  Events& ev = open([&](auto&, const executor::Invocation& inv) {
    json e = json::parse(inv.payload);
    std::vector<std::string> bodies;
    json failures = json::array();
    for (const auto& r : e["Records"]) {
      bodies.push_back(r["body"]);
      if (r["body"] == "poison") failures.push_back({{"itemIdentifier", r["messageId"]}});
    }
    std::lock_guard lock(mu);
    batches.push_back(bodies);
    return ok(json{{"batchItemFailures", failures}}.dump());
  });
  ev.configure(spec("sink",
                    json::array({{{"queue", {{"topic", "t"}, {"batch_size", 3},
                                             {"batch_window", "1s"}}}}}),
                    {{"retries", 1}, {"backoff", "10ms"}}));
  for (const char* b : {"a", "poison", "c"}) ASSERT_TRUE(ev.publish("t", {b, {}}).has_value());
  ev.start();
  json letters = wait_messages("dead-letters", 1);
  EXPECT_EQ(letters[0]["body"], "poison");
  EXPECT_EQ(letters[0]["attributes"]["kumo_function"], "sink");
  std::lock_guard lock(mu);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], (std::vector<std::string>{"a", "poison", "c"}));
  EXPECT_EQ(batches[1], (std::vector<std::string>{"poison"}));
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

TEST_F(EventsTest, ATenantsQueueSeesItsOwnTopicByItsPlainNameAndFailsToItsOwnDeadLetters) {
  std::mutex mu;
  std::vector<json> events;
  Events& ev = open([&](auto&, const executor::Invocation& inv) {
    std::lock_guard lock(mu);
    events.push_back(json::parse(inv.payload));
    return error("Boom", "no");
  });
  ev.configure(spec("acme~sink", json::array({{{"queue", {{"topic", "acme~jobs"}}}}}),
                    {{"retries", 0}}));
  ASSERT_TRUE(ev.publish("jobs", {"for the default tenant", {}}).has_value());
  ASSERT_TRUE(ev.publish("acme~jobs", {"for acme", {}}).has_value());
  ev.start();
  json letters = wait_messages("acme~dead-letters", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0]["body"], "for acme");
  EXPECT_EQ(letters[0]["attributes"]["kumo_function"], "sink");
  EXPECT_EQ(letters[0]["attributes"]["kumo_source_topic"], "jobs");
  EXPECT_EQ((*ev.messages("dead-letters", 0, 10))["messages"].size(), 0u);
  std::lock_guard lock(mu);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(events[0]["Records"].size(), 1u);
  EXPECT_EQ(events[0]["Records"][0]["body"], "for acme");
  EXPECT_EQ(events[0]["Records"][0]["eventSourceARN"], "arn:kumo:queue:local:jobs");
}

TEST_F(EventsTest, AScheduleFiresEachTickOnceEvenAcrossARestart) {
  std::atomic<int> fired{0};
  std::string payload;
  Events& ev = open([&](auto&, const executor::Invocation& inv) {
    if (fired++ == 0) payload = inv.payload;
    return ok("{}");
  });
  auto tick = spec("tick", json::array({{{"schedule", {{"cron", "@every 1s"}}}}}));
  ev.configure(tick);
  ev.start();
  for (int i = 0; i < 250 && fired == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_GE(fired.load(), 1);
  json e = json::parse(payload);
  EXPECT_EQ(e["detail-type"], "Scheduled Event");
  EXPECT_EQ(e["source"], "kumo.schedule");
  // A restart within the same second must not fire that second's tick again.
  int before = fired.load();
  ev.stop();
  Events& again = open([&](auto&, auto&) {
    fired++;
    return ok("{}");
  });
  again.configure(tick);
  again.start();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_LE(fired.load(), before + 1);  // at most the next second's tick
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
