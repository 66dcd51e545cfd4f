// decide(): each decision about an ended attempt, as plain values at a given time.
#include "events/outcome.h"

#include <gtest/gtest.h>

#include "events/triggers.h"

namespace kumo::events {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int64_t kNow = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z

FunctionInfo info(json async = json::object()) {
  auto triggers = parse_triggers(json::array(), async);
  EXPECT_TRUE(triggers.has_value());
  FunctionInfo i;
  i.triggers = *triggers;
  return i;
}

Completion attempt(int attempts, int max_attempts, executor::Reply reply) {
  Completion c;
  c.row = new_invocation("fn", R"({"x": 1})", "api", max_attempts, kNow - 1000);
  c.row.state = "running";
  c.row.attempts = attempts;
  c.reply = std::move(reply);
  return c;
}

executor::Reply failed(const std::string& type) {
  executor::Reply r;
  r.outcome = executor::Outcome::kError;
  r.error_type = type;
  r.error_message = "no";
  return r;
}

const BatchLookup kNoBatch = [](const std::string&) { return std::vector<StoredMessage>(); };

TEST(Decide, AnAttemptThatNeverStartedGoesBackWithoutUsingAnAttempt) {
  executor::Reply r;
  r.started = false;
  FunctionInfo fi = info();
  Decision d = decide(attempt(1, 3, r), &fi, kNow, kNoBatch);
  EXPECT_EQ(d.end.state, "queued");
  EXPECT_TRUE(d.end.refund_attempt);
  EXPECT_EQ(d.end.next_run_us, kNow + kThrottleRetryUs);
}

TEST(Decide, ASuccessKeepsTheResultAndAnOversizedOneAsANote) {
  FunctionInfo fi = info();
  executor::Reply r;
  r.body = R"({"ok": true})";
  Decision d = decide(attempt(1, 3, r), &fi, kNow, kNoBatch);
  EXPECT_EQ(d.end.state, "succeeded");
  EXPECT_EQ(d.end.result, R"({"ok": true})");
  r.body = json(std::string(kMaxResultBytes + 1, 'x')).dump();
  d = decide(attempt(1, 3, r), &fi, kNow, kNoBatch);
  EXPECT_EQ(d.end.state, "succeeded");
  EXPECT_NE(d.end.result.find("over the 256 KiB kept"), std::string::npos) << d.end.result;
  EXPECT_TRUE(d.follow.invocations.empty());
}

TEST(Decide, AFailureWithAttemptsLeftIsRetriedAfterTheGrowingBackoff) {
  FunctionInfo fi = info({{"retries", 2}, {"backoff", "2s"}});
  Decision first = decide(attempt(1, 3, failed("E")), &fi, kNow, kNoBatch);
  EXPECT_EQ(first.end.state, "failed");
  EXPECT_EQ(first.end.error_type, "E");
  EXPECT_GE(first.end.next_run_us, kNow + 1'000'000);
  EXPECT_LT(first.end.next_run_us, kNow + 3'000'000);
  Decision second = decide(attempt(2, 3, failed("E")), &fi, kNow, kNoBatch);
  EXPECT_GE(second.end.next_run_us, kNow + 2'000'000);  // doubled: 4 s spread by [0.5, 1.5)
  EXPECT_LT(second.end.next_run_us, kNow + 6'000'000);
  EXPECT_TRUE(first.follow.messages.empty());
}

TEST(Decide, TheLastFailureBuriesItInTheDeadLetterTopicAndCallsOnFailure) {
  FunctionInfo fi = info({{"retries", 2}, {"on_failure", "alert"}, {"dead_letter", "failed"}});
  Decision d = decide(attempt(3, 3, failed("E")), &fi, kNow, kNoBatch);
  EXPECT_EQ(d.end.state, "dead");
  ASSERT_EQ(d.follow.messages.size(), 1u);
  EXPECT_EQ(d.follow.messages[0].topic, "failed");
  ASSERT_EQ(d.follow.invocations.size(), 1u);
  EXPECT_EQ(d.follow.invocations[0].function, "alert");
  EXPECT_EQ(d.follow.invocations[0].next_run_us, kNow);  // due at once
  json record = json::parse(d.follow.invocations[0].payload);
  EXPECT_TRUE(record["timestamp"].get<std::string>().starts_with("2026-01-01T00:00:00"))
      << record["timestamp"];
}

TEST(Decide, AFunctionRemovedWhileItRanIsNotRetried) {
  Decision d = decide(attempt(1, 3, failed("E")), nullptr, kNow, kNoBatch);
  EXPECT_EQ(d.end.state, "dead");
  ASSERT_EQ(d.follow.messages.size(), 1u);
  EXPECT_EQ(d.follow.messages[0].topic, "dead-letters");
}

TEST(Decide, ATenantsDeadLetterStaysInItsTenantAndADeadLettersOwnFailureIsNotReposted) {
  FunctionInfo fi = info({{"retries", 0}});
  Completion c = attempt(1, 1, failed("E"));
  c.row.function = "acme~fn";
  Decision d = decide(c, &fi, kNow, kNoBatch);
  ASSERT_EQ(d.follow.messages.size(), 1u);
  EXPECT_EQ(d.follow.messages[0].topic, "acme~dead-letters");
  c.row.source = "queue:acme~dead-letters";
  EXPECT_TRUE(decide(c, &fi, kNow, kNoBatch).follow.messages.empty());
}

TEST(Decide, APartialBatchFailureRetriesOnlyTheNamedItemsAsANewInvocation) {
  FunctionInfo fi = info({{"retries", 1}, {"backoff", "1s"}});
  executor::Reply r;
  r.body = R"({"batchItemFailures": [{"itemIdentifier": "id-2"}]})";
  Completion c = attempt(1, 2, r);
  c.row.messages = "[1,2]";
  BatchLookup batch = [](const std::string& seqs) {
    EXPECT_EQ(seqs, "[1,2]");
    return std::vector<StoredMessage>{{1, "id-1", "t", "a", "{}", 0},
                                      {2, "id-2", "t", "b", "{}", 0}};
  };
  Decision d = decide(c, &fi, kNow, batch);
  EXPECT_EQ(d.end.state, "succeeded");
  ASSERT_EQ(d.follow.invocations.size(), 1u);
  const InvocationRow& retry = d.follow.invocations[0];
  EXPECT_NE(retry.request_id, c.row.request_id);
  EXPECT_EQ(retry.state, "failed");
  EXPECT_EQ(retry.messages, "[2]");
  EXPECT_GE(retry.next_run_us, kNow + 500'000);
  EXPECT_EQ(json::parse(retry.payload)["Records"][0]["body"], "b");
}

}  // namespace
}  // namespace kumo::events
