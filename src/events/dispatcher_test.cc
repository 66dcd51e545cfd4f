// The dispatcher's decisions about async invocations, stepped on a fake clock
// (testing/dispatcher_harness.h): runs, retries with backoff, dead letters, throttling,
// capacity and recovery after a restart.
#include "events/dispatcher.h"

#include <gtest/gtest.h>

#include "events/testing/dispatcher_harness.h"

namespace kumo::events {
namespace {

using namespace kumo::events::testing;

TEST_F(DispatcherTest, AnAsyncInvocationRunsAndKeepsItsResult) {
  configure(spec("echo"));
  std::string id = invoke("echo", R"({"n": 7})");
  EXPECT_EQ(wakes_, 1);  // the intake wakes the thread
  step();
  ASSERT_EQ(sched_.calls.size(), 1u);
  EXPECT_EQ(state(id)["state"], "running");
  sched_.answer([](auto& c) { return ok(json{{"echo", json::parse(c.inv.payload)}}.dump()); });
  EXPECT_EQ(wakes_, 2);  // so does an ended attempt
  step();
  json done = state(id);
  EXPECT_EQ(done["state"], "succeeded");
  EXPECT_EQ(done["result"]["echo"]["n"], 7);
  EXPECT_EQ(done["attempts"], 1);
}

TEST_F(DispatcherTest, WithNothingDueTheNextStepIsTheLongestWait) {
  configure(spec("idle"));
  EXPECT_EQ(step(), now() + Dispatcher::kMaxIdleUs);
  EXPECT_TRUE(sched_.calls.empty());
}

TEST_F(DispatcherTest, AFailedAttemptIsRetriedAfterItsBackoffAndNotBefore) {
  configure(spec("flaky", json::array(), {{"retries", 2}, {"backoff", "10s"}}));
  std::string id = invoke("flaky");
  step();
  sched_.answer([](auto&) { return error("ValueError", "bad input"); });
  int64_t due = step();
  json failed = state(id);
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["error"]["type"], "ValueError");
  // The first retry waits the backoff, spread by a factor in [0.5, 1.5).
  int64_t retry_at = next_run(id);
  EXPECT_GE(retry_at, now() + 5'000'000);
  EXPECT_LT(retry_at, now() + 15'000'000);
  EXPECT_EQ(due, std::min(retry_at, now() + Dispatcher::kMaxIdleUs));
  clock_.advance(std::chrono::microseconds(retry_at - now() - 1));
  step();
  EXPECT_EQ(sched_.calls.size(), 1u);
  advance(milliseconds(1));
  EXPECT_EQ(step(), now() + Dispatcher::kMaxIdleUs);  // at capacity: the answer wakes it
  ASSERT_EQ(sched_.calls.size(), 2u);
  EXPECT_EQ(sched_.calls[1].inv.attempt, 2);
}

TEST_F(DispatcherTest, AfterTheLastAttemptItGoesToTheDeadLetterTopicAndOnFailure) {
  configure(
      spec("flaky", json::array(), {{"retries", 2}, {"backoff", "1s"}, {"on_failure", "alert"}}));
  configure(spec("alert"));
  std::string id = invoke("flaky", R"({"order": 42})");
  step();
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_EQ(sched_.answer([](auto&) { return error("ValueError", "bad input"); }), 1);
    step();                // writes the failure back; the retry waits its backoff
    advance(seconds(60));  // past it
    step();
  }
  ASSERT_EQ(sched_.answer([](auto&) { return error("ValueError", "bad input"); }), 1);
  step();  // writes the last failure back, and sends the on_failure call at once
  json dead = state(id);
  EXPECT_EQ(dead["state"], "dead");
  EXPECT_EQ(dead["attempts"], 3);
  EXPECT_EQ(dead["error"]["message"], "bad input");
  json dl = letters("dead-letters");
  ASSERT_EQ(dl.size(), 1u);
  json letter = json::parse(dl[0]["body"].get<std::string>());
  EXPECT_EQ(letter["request_id"], id);
  EXPECT_EQ(letter["payload"]["order"], 42);

  ASSERT_EQ(sched_.functions(), (std::vector<std::string>{"flaky", "flaky", "flaky", "alert"}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sched_.calls[i].inv.attempt, i + 1);
  json record = json::parse(sched_.calls[3].inv.payload);
  EXPECT_EQ(record["requestContext"]["condition"], "RetriesExhausted");
  EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 3);
  EXPECT_EQ(record["requestPayload"]["order"], 42);
  EXPECT_EQ(record["responsePayload"]["errorType"], "ValueError");
}

TEST_F(DispatcherTest, AThrottledAttemptDoesNotCountAndWaitsItsPause) {
  configure(spec("busy", json::array(), {{"retries", 0}}));
  std::string id = invoke("busy");
  step();
  sched_.answer([](auto&) {
    executor::Reply r;
    r.outcome = executor::Outcome::kThrottled;
    return r;
  });
  EXPECT_EQ(step(), now() + kThrottleRetryUs);
  EXPECT_EQ(state(id)["state"], "queued");
  EXPECT_EQ(state(id)["attempts"], 0);
  advance(milliseconds(99));
  step();
  EXPECT_EQ(sched_.calls.size(), 1u);
  advance(milliseconds(1));
  step();
  ASSERT_EQ(sched_.calls.size(), 2u);
  sched_.answer([](auto&) { return ok("1"); });
  step();
  EXPECT_EQ(state(id)["state"], "succeeded");
  EXPECT_EQ(state(id)["attempts"], 1);
}

TEST_F(DispatcherTest, ASchedulerThatRefusesIsAnsweredAtOnceAndCountsAsThrottled) {
  configure(spec("full"));
  std::string id = invoke("full");
  sched_.refuse = ErrorCode::kThrottled;
  EXPECT_EQ(step(), now());  // the refusal is an ended attempt: step again at once
  step();
  EXPECT_EQ(state(id)["state"], "queued");
  EXPECT_EQ(state(id)["attempts"], 0);
}

TEST_F(DispatcherTest, AFunctionGetsNoMoreAtOnceThanItsCapacity) {
  registry::FunctionSpec one = spec("one");
  one.max_instances = 1;
  one.max_queue = 0;  // capacity 1
  configure(one);
  std::string first = invoke("one");
  std::string second = invoke("one");
  step();
  step();
  ASSERT_EQ(sched_.calls.size(), 1u);
  EXPECT_EQ(state(second)["state"], "queued");
  sched_.answer([](auto&) { return ok("1"); });
  step();
  ASSERT_EQ(sched_.calls.size(), 2u);
  EXPECT_EQ(state(first)["state"], "succeeded");
  EXPECT_EQ(sched_.calls[1].inv.request_id, second);
}

TEST_F(DispatcherTest, AResultNestedTooDeepIsTheFunctionsErrorAndADeepPayloadIsKeptAsText) {
  // Before the bound, dumping either for the dead letter or the status overflowed the stack.
  std::string deep = std::string(50'000, '[') + std::string(50'000, ']');
  configure(spec("deep", json::array(), {{"retries", 0}}));
  std::string id = invoke("deep", deep);
  step();
  sched_.answer([&](auto&) { return ok(deep); });
  step();
  json dead = state(id);
  EXPECT_EQ(dead["state"], "dead");
  EXPECT_EQ(dead["error"]["type"], "Runtime.MarshalError");
  EXPECT_EQ(dead["error"]["message"], "the function's result: JSON nesting deeper than 128 levels");
  json dl = letters("dead-letters");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(json::parse(dl[0]["body"].get<std::string>())["payload"], deep);
}

TEST_F(DispatcherTest, WhatWasRunningWhenTheServerDiedRunsAfterTheRestart) {
  configure(spec("work"));
  std::string id = invoke("work");
  step();
  EXPECT_EQ(state(id)["state"], "running");
  restart();  // the first server never heard back
  ASSERT_EQ(dispatcher_->recover().value_or(-1), 1);
  step();
  ASSERT_EQ(sched_.calls.size(), 2u);
  sched_.answer([](auto&) { return ok("2"); });
  step();
  json done = state(id);
  EXPECT_EQ(done["state"], "succeeded");
  EXPECT_EQ(done["result"], 2);
  EXPECT_EQ(done["attempts"], 1);
}

}  // namespace
}  // namespace kumo::events
