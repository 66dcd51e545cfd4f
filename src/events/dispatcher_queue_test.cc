// The dispatcher's decisions about topic batches and schedules, stepped on a fake clock
// (testing/dispatcher_harness.h): batch sizes and windows, partial batch failures, a
// tenant's dead letters, and a schedule that fires each tick once, across a restart too.
#include "events/dispatcher.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "events/testing/dispatcher_harness.h"

namespace kumo::events {
namespace {

using namespace kumo::events::testing;

TEST_F(DispatcherTest, FullBatchesGoAtOnceAndAShortOneWhenItsWindowEnds) {
  configure(spec("sink", queue("jobs", 2, "200ms")));
  int64_t published = now();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(intake_->publish("jobs", {fmt::format("m{}", i), {{"k", "v"}}}).has_value());
  }
  EXPECT_EQ(step(), published + 200'000);  // the last message's window
  ASSERT_EQ(sched_.calls.size(), 2u);
  EXPECT_EQ(bodies(sched_.calls[0].inv), (std::vector<std::string>{"m0", "m1"}));
  EXPECT_EQ(bodies(sched_.calls[1].inv), (std::vector<std::string>{"m2", "m3"}));
  advance(milliseconds(199));
  step();
  EXPECT_EQ(sched_.calls.size(), 2u);
  advance(milliseconds(1));
  step();
  ASSERT_EQ(sched_.calls.size(), 3u);
  EXPECT_EQ(bodies(sched_.calls[2].inv), (std::vector<std::string>{"m4"}));
  json record = json::parse(sched_.calls[2].inv.payload)["Records"][0];
  EXPECT_EQ(record["messageAttributes"]["k"]["stringValue"], "v");
}

TEST_F(DispatcherTest, OnlyTheBatchItemsReportedFailedAreRetried) {
  configure(spec("sink", queue("t", 3, "1s"), {{"retries", 1}, {"backoff", "10s"}}));
  for (const char* b : {"a", "poison", "c"})
    ASSERT_TRUE(intake_->publish("t", {b, {}}).has_value());
  auto fail_poison = [](const HandScheduler::Call& c) {
    json failures = json::array();
    json event = json::parse(c.inv.payload);
    for (const auto& r : event["Records"]) {
      if (r["body"] == "poison") failures.push_back({{"itemIdentifier", r["messageId"]}});
    }
    return ok(json{{"batchItemFailures", failures}}.dump());
  };
  step();
  ASSERT_EQ(sched_.calls.size(), 1u);
  EXPECT_EQ(bodies(sched_.calls[0].inv), (std::vector<std::string>{"a", "poison", "c"}));
  sched_.answer(fail_poison);
  int64_t due = step();
  EXPECT_GE(due, now() + 1);  // the retry waits its backoff
  EXPECT_TRUE(letters("dead-letters").empty());
  advance(seconds(20));
  step();
  ASSERT_EQ(sched_.calls.size(), 2u);
  EXPECT_EQ(bodies(sched_.calls[1].inv), (std::vector<std::string>{"poison"}));
  EXPECT_EQ(sched_.calls[1].inv.attempt, 2);
  sched_.answer(fail_poison);
  step();
  json dl = letters("dead-letters");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0]["body"], "poison");
  EXPECT_EQ(dl[0]["attributes"]["kumo_function"], "sink");
  EXPECT_EQ(dl[0]["attributes"]["kumo_source_topic"], "t");
}

TEST_F(DispatcherTest, ATenantsQueueSeesItsOwnTopicAndFailsToItsOwnDeadLetters) {
  configure(
      spec("acme~sink", json::array({{{"queue", {{"topic", "acme~jobs"}}}}}), {{"retries", 0}}));
  ASSERT_TRUE(intake_->publish("jobs", {"for the default tenant", {}}).has_value());
  ASSERT_TRUE(intake_->publish("acme~jobs", {"for acme", {}}).has_value());
  step();
  ASSERT_EQ(sched_.calls.size(), 1u);
  json event = json::parse(sched_.calls[0].inv.payload);
  ASSERT_EQ(event["Records"].size(), 1u);
  EXPECT_EQ(event["Records"][0]["body"], "for acme");
  EXPECT_EQ(event["Records"][0]["eventSourceARN"], "arn:kumo:queue:local:jobs");
  sched_.answer([](auto&) { return error("Boom", "no"); });
  step();
  json dl = letters("acme~dead-letters");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0]["body"], "for acme");
  EXPECT_EQ(dl[0]["attributes"]["kumo_function"], "sink");
  EXPECT_EQ(dl[0]["attributes"]["kumo_source_topic"], "jobs");
  EXPECT_TRUE(letters("dead-letters").empty());
}

TEST_F(DispatcherTest, AScheduleFiresEachTickOnceEvenAcrossARestart) {
  auto tick = spec("tick", json::array({{{"schedule", {{"cron", "@every 1s"}}}}}));
  configure(tick);
  advance(milliseconds(500));
  EXPECT_EQ(step(), kStart + 1'000'000);  // nothing before the first tick after deploy
  EXPECT_TRUE(sched_.calls.empty());
  advance(milliseconds(500));
  step();
  ASSERT_EQ(sched_.calls.size(), 1u);
  json e = json::parse(sched_.calls[0].inv.payload);
  EXPECT_EQ(e["detail-type"], "Scheduled Event");
  EXPECT_EQ(e["source"], "kumo.schedule");
  EXPECT_EQ(e["time"], "2026-01-01T00:00:01Z");
  step();
  EXPECT_EQ(sched_.calls.size(), 1u);  // the same tick never twice
  // A restart within the same second must not fire that second's tick again.
  advance(milliseconds(300));
  restart();
  step();
  EXPECT_EQ(sched_.calls.size(), 1u);
  advance(milliseconds(700));
  step();
  ASSERT_EQ(sched_.calls.size(), 2u);
  EXPECT_EQ(json::parse(sched_.calls[1].inv.payload)["time"], "2026-01-01T00:00:02Z");
}

TEST_F(DispatcherTest, AScheduleWithoutCatchUpSkipsTheTicksMissedWhileDown) {
  auto tick = spec("tick", json::array({{{"schedule", {{"cron", "@every 1s"}}}}}));
  configure(tick);
  step();
  advance(seconds(1));
  step();
  ASSERT_EQ(sched_.calls.size(), 1u);
  restart();
  advance(seconds(10));  // down for ten ticks
  step();
  EXPECT_EQ(sched_.calls.size(), 1u);
  advance(seconds(1));
  step();
  EXPECT_EQ(sched_.calls.size(), 2u);
}

TEST_F(DispatcherTest, AScheduleWithCatchUpReplaysTheTicksMissedWhileDown) {
  auto tick =
      spec("tick", json::array({{{"schedule", {{"cron", "@every 1s"}, {"catch_up", true}}}}}));
  configure(tick);
  step();
  advance(seconds(1));
  step();
  ASSERT_EQ(sched_.calls.size(), 1u);
  restart();
  advance(seconds(10));
  step();
  EXPECT_EQ(sched_.calls.size(), 11u);
}

}  // namespace
}  // namespace kumo::events
