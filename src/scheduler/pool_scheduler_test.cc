#include "scheduler/pool_scheduler.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "scheduler/fake_executor.h"

namespace kumo::scheduler {
namespace {

using executor::Outcome;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeInstance;
using testing::FakeLauncher;

struct Records final : InvocationObserver {
  void on_invocation(const InvocationRecord& r) override { all.push_back(r); }
  std::vector<InvocationRecord> all;
};

struct ScaleLog final : ScaleObserver {
  void on_scale(const std::string& function, const std::string& what, int n) override {
    lines.push_back(function + ": " + what + " -> " + std::to_string(n));
  }
  std::vector<std::string> lines;
};

// One caller waiting for its reply.
struct Caller {
  int done = 0;
  executor::Reply reply;
  size_t records_before_done = 0;  // how many records the observer had when on_done came
};

class SchedulerTest : public ::testing::Test {
 protected:
  static PoolConfig config(int concurrency = 1, int max_instances = 10, int version = 1) {
    PoolConfig c;
    c.launch.function = "detect";
    c.launch.version = version;
    c.launch.memory_mb = 512;
    c.launch.concurrency = concurrency;
    c.max_instances = max_instances;
    return c;
  }

  // Invokes "detect"; the returned caller records its reply.
  Caller& call(std::string id, milliseconds timeout = seconds(30),
               const std::string& function = "detect") {
    Caller& c = callers_.emplace_back();
    ASSERT_OK(invoke(std::move(id), timeout, c, function));
    return c;
  }
  Result<void> invoke(std::string id, milliseconds timeout, Caller& c,
                      const std::string& function = "detect") {
    executor::Invocation inv;
    inv.request_id = std::move(id);
    inv.timeout = timeout;
    executor::ReplyHandler h;
    h.on_done = [this, &c](executor::Reply r) {
      ++c.done;
      c.reply = std::move(r);
      c.records_before_done = records_.all.size();
    };
    return sched_.invoke(function, std::move(inv), std::move(h));
  }
  static void ASSERT_OK(const Result<void>& r) {
    if (!r) ADD_FAILURE() << r.error().message;
  }
  FakeInstance& inst(size_t i) { return launcher_.at(i); }

  FakeClock clock_;
  FakeLauncher launcher_{&clock_};
  Records records_;
  ScaleLog scale_;
  std::deque<Caller> callers_;
  PoolScheduler sched_{launcher_, clock_, records_, scale_};
};

TEST_F(SchedulerTest, RoutesToAReadyInstance) {
  sched_.configure(config());
  Caller& first = call("r1");
  ASSERT_EQ(launcher_.launches(), 1u);
  EXPECT_EQ(inst(0).spec().function, "detect");
  inst(0).ready();
  ASSERT_EQ(inst(0).in_flight(), 1u);
  EXPECT_EQ(inst(0).calls().front().inv.request_id, "r1");
  inst(0).complete(Outcome::kOk, R"({"label":"cat"})");
  EXPECT_EQ(first.done, 1);
  EXPECT_EQ(first.reply.body, R"({"label":"cat"})");

  Caller& second = call("r2");
  EXPECT_EQ(launcher_.launches(), 1u);  // warm: no new instance
  inst(0).complete();
  EXPECT_EQ(second.done, 1);
  EXPECT_EQ(second.reply.outcome, Outcome::kOk);
}

TEST_F(SchedulerTest, NeverRoutesToAStartingInstance) {
  sched_.configure(config());
  call("r1");
  EXPECT_EQ(inst(0).in_flight(), 0u);
  PoolStats s = sched_.stats("detect");
  EXPECT_EQ(s.starting, 1);
  EXPECT_EQ(s.queued, 1);
}

TEST_F(SchedulerTest, StartsASecondInstanceWhenTheFirstIsBusy) {
  sched_.configure(config(/*concurrency=*/1));
  call("r1");
  inst(0).ready();
  Caller& r2 = call("r2");
  ASSERT_EQ(launcher_.launches(), 2u);
  EXPECT_EQ(inst(0).in_flight(), 1u);  // r2 did not pile onto the busy one
  inst(1).ready();
  ASSERT_EQ(inst(1).in_flight(), 1u);
  EXPECT_EQ(inst(1).calls().front().inv.request_id, "r2");
  inst(1).complete();
  EXPECT_EQ(r2.done, 1);
  PoolStats s = sched_.stats("detect");
  EXPECT_EQ(s.busy, 1);
  EXPECT_EQ(s.idle, 1);
}

TEST_F(SchedulerTest, PacksRequestsOntoTheMostRecentlyUsedInstance) {
  PoolConfig c = config(/*concurrency=*/2);
  c.min_instances = 2;
  sched_.configure(c);
  ASSERT_EQ(launcher_.launches(), 2u);
  inst(0).ready();
  clock_.advance(seconds(1));
  inst(1).ready();  // the most recently used idle one
  call("r1");
  call("r2");
  EXPECT_EQ(inst(1).in_flight(), 2u);  // busy-but-not-full beats idle
  EXPECT_EQ(inst(0).in_flight(), 0u);
  call("r3");
  EXPECT_EQ(inst(0).in_flight(), 1u);
}

TEST_F(SchedulerTest, RespectsMaxInstancesAndServesTheQueueInOrder) {
  sched_.configure(config(/*concurrency=*/1, /*max_instances=*/2));
  call("r1");
  call("r2");
  inst(0).ready();
  inst(1).ready();
  call("r3");
  call("r4");
  EXPECT_EQ(launcher_.launches(), 2u);
  EXPECT_EQ(sched_.stats("detect").queued, 2);
  inst(1).complete();
  ASSERT_EQ(inst(1).in_flight(), 1u);
  EXPECT_EQ(inst(1).calls().front().inv.request_id, "r3");
  inst(0).complete();
  EXPECT_EQ(inst(0).calls().front().inv.request_id, "r4");
  EXPECT_EQ(sched_.stats("detect").queued, 0);
}

TEST_F(SchedulerTest, RefusesWithThrottledWhenTheQueueIsFull) {
  PoolConfig c = config(1, /*max_instances=*/1);
  c.max_queue = 2;
  sched_.configure(c);
  call("r1");
  call("r2");
  Caller refused;
  auto r = invoke("r3", seconds(30), refused);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kThrottled);
  EXPECT_EQ(r.error().message,
            "function 'detect': 2 requests already queued; retry later or raise max_queue");
  EXPECT_EQ(refused.done, 0);
}

TEST_F(SchedulerTest, UnknownFunctionIsNotFound) {
  Caller c;
  auto r = invoke("r1", seconds(1), c, "nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("function 'nope' not found"), std::string::npos);
}

TEST_F(SchedulerTest, QueuedRequestPastItsTimeoutEndsThrottled) {
  sched_.configure(config(1, /*max_instances=*/1));
  call("r1");
  inst(0).ready();
  Caller& waiting = call("r2", seconds(5));
  clock_.advance(seconds(5));
  sched_.tick();
  EXPECT_EQ(waiting.done, 0);
  clock_.advance(milliseconds(1));
  sched_.tick();
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.reply.outcome, Outcome::kThrottled);
  EXPECT_EQ(sched_.stats("detect").queued, 0);
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].outcome, Outcome::kThrottled);
  EXPECT_EQ(records_.all[0].queue_us, 5'001'000);
}

TEST_F(SchedulerTest, ScalesToZeroAfterIdleTimeoutAndNotBefore) {
  PoolConfig c = config();
  c.idle_timeout = seconds(60);
  sched_.configure(c);
  call("r1");
  inst(0).ready();
  clock_.advance(seconds(1));
  inst(0).complete();
  clock_.advance(seconds(60));
  sched_.tick();
  EXPECT_EQ(sched_.stats("detect").idle, 1);
  EXPECT_FALSE(inst(0).stopped());
  clock_.advance(milliseconds(1));
  sched_.tick();
  EXPECT_EQ(sched_.stats("detect").desired, 0);
  EXPECT_EQ(sched_.stats("detect").total(), 0);
  EXPECT_TRUE(launcher_.destroyed(0));  // nothing of it stays resident
  EXPECT_EQ(scale_.lines.back(), "detect: scale down -> 0");
}

TEST_F(SchedulerTest, KeepsMinInstancesWarm) {
  PoolConfig c = config();
  c.min_instances = 2;
  c.idle_timeout = seconds(1);
  sched_.configure(c);
  ASSERT_EQ(launcher_.launches(), 2u);
  inst(0).ready();
  inst(1).ready();
  clock_.advance(std::chrono::minutes(10));
  sched_.tick();
  EXPECT_EQ(sched_.stats("detect").idle, 2);
  inst(0).exit();  // a crash drops below the minimum: the pool starts another
  sched_.tick();
  EXPECT_EQ(launcher_.launches(), 3u);
  EXPECT_EQ(sched_.stats("detect").total(), 2);
}

TEST_F(SchedulerTest, InitFailureFailsTheWaitingRequestsWithTheInitError) {
  sched_.configure(config(1, /*max_instances=*/1));
  Caller& a = call("r1");
  Caller& b = call("r2");
  inst(0).fail_init("ModuleNotFoundError", "No module named 'torch'");
  for (Caller* c : {&a, &b}) {
    ASSERT_EQ(c->done, 1);
    EXPECT_EQ(c->reply.outcome, Outcome::kInitError);
    EXPECT_EQ(c->reply.error_type, "ModuleNotFoundError");
    EXPECT_EQ(c->reply.error_message, "No module named 'torch'");
  }
  EXPECT_TRUE(inst(0).stopped());
  EXPECT_EQ(sched_.stats("detect").total(), 0);
  EXPECT_EQ(scale_.lines.back(), "detect: init failed -> 0");
  sched_.tick();  // no retry loop without demand
  EXPECT_EQ(launcher_.launches(), 1u);
}

TEST_F(SchedulerTest, LaunchFailureFailsTheRequestThatNeededIt) {
  sched_.configure(config());
  launcher_.fail_next_launch();
  Caller& a = call("r1");
  ASSERT_EQ(a.done, 1);
  EXPECT_EQ(a.reply.outcome, Outcome::kInitError);
  EXPECT_EQ(a.reply.error_type, "LaunchFailed");
  EXPECT_NE(a.reply.error_message.find("no such code directory"), std::string::npos);
}

TEST_F(SchedulerTest, CrashOfOneInstanceSparesTheOthersAndReplacesItForQueuedWork) {
  sched_.configure(config(1, /*max_instances=*/2));
  Caller& a = call("r1");
  Caller& b = call("r2");
  inst(0).ready();
  inst(1).ready();
  Caller& c = call("r3");
  ASSERT_EQ(launcher_.launches(), 2u);
  inst(0).exit();
  EXPECT_EQ(a.reply.outcome, Outcome::kCrash);
  EXPECT_EQ(b.done, 0);
  EXPECT_EQ(inst(1).in_flight(), 1u);
  ASSERT_EQ(launcher_.launches(), 3u);  // a replacement for r3
  EXPECT_EQ(scale_.lines.back(), "detect: instance crashed -> 2");
  inst(2).ready();
  inst(2).complete();
  inst(1).complete();
  EXPECT_EQ(b.reply.outcome, Outcome::kOk);
  EXPECT_EQ(c.reply.outcome, Outcome::kOk);
}

TEST_F(SchedulerTest, OutOfMemoryIsLoggedAsSuch) {
  sched_.configure(config());
  Caller& a = call("r1");
  inst(0).ready();
  inst(0).exit(/*oom=*/true);
  EXPECT_EQ(a.reply.outcome, Outcome::kOom);
  EXPECT_EQ(scale_.lines.back(), "detect: instance out of memory -> 0");
}

TEST_F(SchedulerTest, TickScalesOutAheadOfDemandThenToZeroAfterIdleTimeout) {
  PoolConfig c = config();
  c.idle_timeout = seconds(10);  // also bounds the KPA stable window
  sched_.configure(c);
  for (int i = 0; i < 3; ++i) call("r" + std::to_string(i));
  for (int i = 0; i < 3; ++i) inst(i).ready();
  for (int s = 0; s < 60; ++s) {  // three requests in flight for a minute
    clock_.advance(seconds(1));
    sched_.tick();
  }
  // ceil(3 / 0.7) = 5 would be two instances that the peak of 3 never used.
  EXPECT_EQ(sched_.stats("detect").desired, 3);
  EXPECT_EQ(launcher_.launches(), 3u);
  inst(0).exit();  // a crash: the tick restarts it ahead of demand, up to desired
  clock_.advance(seconds(1));
  sched_.tick();
  EXPECT_EQ(launcher_.launches(), 4u);
  for (int i = 1; i < 3; ++i) inst(i).complete();
  inst(3).ready();
  clock_.advance(seconds(2));
  sched_.tick();
  EXPECT_EQ(sched_.stats("detect").total(), 3);  // idle for less than idle_timeout
  for (int s = 0; s < 12; ++s) {
    clock_.advance(seconds(1));
    sched_.tick();
  }
  EXPECT_EQ(sched_.stats("detect").total(), 0);
  EXPECT_EQ(sched_.stats("detect").desired, 0);
}

TEST_F(SchedulerTest, ASequentialClientIsServedByOneInstance) {
  sched_.configure(config());
  for (int i = 0; i < 20; ++i) {
    call("r" + std::to_string(i));
    if (i == 0) inst(0).ready();
    for (int t = 0; t < 5; ++t) {  // each request runs 500 ms, ticks every 100 ms
      clock_.advance(milliseconds(100));
      sched_.tick();
    }
    inst(0).complete();
    clock_.advance(milliseconds(50));
    sched_.tick();
  }
  EXPECT_EQ(launcher_.launches(), 1u);  // KPA's 70 % target alone wants ceil(1 / 0.7) = 2
  EXPECT_LE(sched_.stats("detect").desired, 1);
  for (const Caller& c : callers_) EXPECT_EQ(c.done, 1);
}

TEST_F(SchedulerTest, OneColdRequestStartsOneInstanceWhileItInitialises) {
  sched_.configure(config());
  call("r1");
  for (int i = 0; i < 20; ++i) {  // a slow init: the autoscaler wants headroom meanwhile
    clock_.advance(milliseconds(100));
    sched_.tick();
  }
  EXPECT_EQ(launcher_.launches(), 1u);  // not a second interpreter competing for the CPU
  inst(0).ready();
  EXPECT_EQ(inst(0).in_flight(), 1u);
}

TEST_F(SchedulerTest, SendsOneRequestAheadOnlyWhenNoInstanceHasAFreeSlot) {
  launcher_.set_pipeline_depth(1);
  sched_.configure(config(1, 2));
  call("r1");
  call("r2");
  inst(0).ready();
  inst(1).ready();
  EXPECT_EQ(inst(0).in_flight(), 1u);  // a free slot wins over sending ahead
  EXPECT_EQ(inst(1).in_flight(), 1u);
  call("r3");
  call("r4");
  call("r5");
  EXPECT_EQ(inst(0).in_flight() + inst(1).in_flight(), 4u);  // one ahead on each
  EXPECT_EQ(sched_.stats("detect").queued, 1);
  inst(0).complete();
  EXPECT_EQ(inst(0).in_flight(), 2u);  // r5 went ahead again as r3 started
  EXPECT_EQ(sched_.stats("detect").queued, 0);
}

TEST_F(SchedulerTest, ARequestSentAheadToAnInstanceThatDiesRunsElsewhere) {
  launcher_.set_pipeline_depth(1);
  sched_.configure(config(1, 2));
  Caller& running = call("r1");
  call("r2");
  inst(0).ready();
  inst(1).ready();
  Caller& ahead = call("r3");
  ASSERT_EQ(inst(0).in_flight() + inst(1).in_flight(), 3u);
  FakeInstance& crashed = inst(0).in_flight() == 2 ? inst(0) : inst(1);
  FakeInstance& other = &crashed == &inst(0) ? inst(1) : inst(0);
  crashed.complete(Outcome::kTimeout);                 // its running request timed out...
  crashed.complete(Outcome::kCrash, "", /*started=*/false);  // ...and the kill ended r3
  EXPECT_EQ(ahead.done, 0);  // not failed: back in the queue
  other.complete();
  other.complete();  // r3, on the surviving instance
  EXPECT_EQ(ahead.done, 1);
  EXPECT_EQ(ahead.reply.outcome, Outcome::kOk);
  EXPECT_EQ(running.done, 1);
}

TEST_F(SchedulerTest, NewVersionTakesNewRequestsAndOldInstancesDrain) {
  PoolConfig v1 = config(1, 5, /*version=*/1);
  v1.min_instances = 0;
  sched_.configure(v1);
  Caller& old_call = call("r1");
  call("r2");
  inst(0).ready();
  inst(1).ready();
  inst(1).complete();  // instance 1 idle, instance 0 busy

  sched_.configure(config(1, 5, /*version=*/2));
  EXPECT_TRUE(inst(1).stopped());   // idle old instance: stopped at once
  EXPECT_FALSE(inst(0).stopped());  // busy one finishes first
  Caller& new_call = call("r3");
  ASSERT_EQ(launcher_.launches(), 3u);
  EXPECT_EQ(inst(2).spec().version, 2);
  EXPECT_EQ(inst(0).in_flight(), 1u);
  inst(0).complete();
  EXPECT_EQ(old_call.reply.outcome, Outcome::kOk);
  EXPECT_TRUE(inst(0).stopped());
  inst(2).ready();
  inst(2).complete();
  EXPECT_EQ(new_call.done, 1);
  ASSERT_EQ(records_.all.size(), 3u);
  EXPECT_EQ(records_.all.back().version, 2);
}

TEST_F(SchedulerTest, RemoveCompletesEveryPendingRequestExactlyOnce) {
  sched_.configure(config(1, 1));
  Caller& running = call("r1");
  Caller& queued = call("r2");
  inst(0).ready();
  sched_.remove("detect");
  EXPECT_EQ(queued.done, 1);
  EXPECT_EQ(queued.reply.outcome, Outcome::kCrash);
  EXPECT_EQ(queued.reply.error_type, "FunctionRemoved");
  EXPECT_EQ(queued.reply.error_message, "function 'detect' was removed");
  EXPECT_TRUE(inst(0).stopped());
  inst(0).finish_stop();
  EXPECT_EQ(running.done, 1);
  EXPECT_EQ(running.reply.outcome, Outcome::kCrash);
  sched_.tick();
  EXPECT_TRUE(launcher_.destroyed(0));
  Caller late;
  EXPECT_EQ(invoke("r3", seconds(1), late).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(records_.all.size(), 2u);
}

TEST_F(SchedulerTest, ShutdownCompletesEveryPendingRequestExactlyOnce) {
  sched_.configure(config(1, 1));
  PoolConfig other = config(1, 1);
  other.launch.function = "resize";
  sched_.configure(other);
  Caller& a = call("r1");
  Caller& b = call("r2");
  Caller& c = call("r3", seconds(30), "resize");
  inst(0).ready();
  sched_.shutdown();
  EXPECT_EQ(b.done, 1);
  EXPECT_EQ(b.reply.error_type, "ShuttingDown");
  EXPECT_EQ(c.done, 1);  // its instance never started
  // Shutdown destroys the stopped instances, which ends what they were serving.
  EXPECT_TRUE(launcher_.destroyed(0));
  EXPECT_TRUE(launcher_.destroyed(1));
  EXPECT_EQ(a.done, 1);
  EXPECT_EQ(a.reply.outcome, Outcome::kCrash);
  Caller late;
  EXPECT_EQ(invoke("r4", seconds(1), late).error().code, ErrorCode::kUnavailable);
  sched_.tick();
  for (const Caller& x : callers_) EXPECT_EQ(x.done, 1);
}

TEST_F(SchedulerTest, ARequestSentAheadIsBilledItsOwnRunAndQueuedForItsWait) {
  launcher_.set_pipeline_depth(1);
  sched_.configure(config(/*concurrency=*/1, /*max_instances=*/1));
  for (int i = 1; i <= 3; ++i) call("r" + std::to_string(i));  // three at once
  clock_.advance(seconds(2));  // the cold start
  inst(0).ready();  // r1 runs, r2 is sent ahead, r3 waits in the pool
  ASSERT_EQ(inst(0).in_flight(), 2u);
  for (int i = 0; i < 3; ++i) {  // each runs one second
    clock_.advance(seconds(1));
    inst(0).complete();
  }
  ASSERT_EQ(records_.all.size(), 3u);
  for (const InvocationRecord& r : records_.all) {
    EXPECT_EQ(r.duration_us, 1'000'000) << r.request_id;  // not 2 s for the ones that waited
  }
  EXPECT_EQ(records_.all[0].queue_us, 2'000'000);
  EXPECT_EQ(records_.all[1].queue_us, 3'000'000);  // 2 s in the pool, 1 s in the instance
  EXPECT_EQ(records_.all[2].queue_us, 4'000'000);  // 3 s in the pool, 1 s in the instance
  EXPECT_GE(records_.all[1].start_wall_us, records_.all[0].start_wall_us + 1'000'000);
  EXPECT_TRUE(records_.all[0].cold_start);
  EXPECT_FALSE(records_.all[1].cold_start);  // they waited behind r1, not for a start
  EXPECT_FALSE(records_.all[2].cold_start);
}

TEST_F(SchedulerTest, EveryRequestThatWaitedForAStartIsAColdStart) {
  launcher_.set_pipeline_depth(1);
  sched_.configure(config(/*concurrency=*/1, /*max_instances=*/4));
  call("r1");
  inst(0).ready();
  for (int i = 2; i <= 4; ++i) call("r" + std::to_string(i));  // while r1 runs
  ASSERT_EQ(launcher_.launches(), 4u);
  // r2 waits for its own instance, not sent ahead behind r1 while that instance starts.
  EXPECT_EQ(inst(0).in_flight(), 1u);
  for (int i = 1; i < 4; ++i) inst(i).ready();
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(inst(i).in_flight(), 1u);
    inst(i).complete();
  }
  ASSERT_EQ(records_.all.size(), 4u);
  for (const InvocationRecord& r : records_.all) EXPECT_TRUE(r.cold_start) << r.request_id;
}

TEST_F(SchedulerTest, AColdStartServedByAnInstanceThatFreedUpFirstStillCounts) {
  sched_.configure(config(/*concurrency=*/1, /*max_instances=*/2));
  call("r1");
  inst(0).ready();
  call("r2");  // starts a second instance and waits for it...
  ASSERT_EQ(launcher_.launches(), 2u);
  inst(0).complete();  // ...but the first frees up before it is ready and takes r2
  ASSERT_EQ(inst(0).in_flight(), 1u);
  inst(0).complete();
  inst(1).ready();
  ASSERT_EQ(records_.all.size(), 2u);
  EXPECT_TRUE(records_.all[1].cold_start);  // its wait included a start
}

TEST_F(SchedulerTest, RecordsMarkColdStartOnlyForRequestsThatWaitedForAStart) {
  sched_.configure(config(1, 1));
  Caller& first = call("r1");
  call("r2");
  clock_.advance(seconds(2));  // the cold start
  inst(0).ready();
  clock_.advance(milliseconds(30));
  inst(0).complete();
  EXPECT_EQ(first.records_before_done, 1u);  // metering hears of it before the caller
  clock_.advance(milliseconds(10));
  inst(0).complete();
  call("r3");
  inst(0).complete();

  ASSERT_EQ(records_.all.size(), 3u);
  const InvocationRecord& r1 = records_.all[0];
  EXPECT_EQ(r1.function, "detect");
  EXPECT_EQ(r1.request_id, "r1");
  EXPECT_TRUE(r1.cold_start);
  EXPECT_EQ(r1.queue_us, 2'000'000);
  EXPECT_EQ(r1.duration_us, 30'000);
  EXPECT_EQ(r1.memory_mb, 512);
  EXPECT_EQ(r1.outcome, Outcome::kOk);
  EXPECT_GT(r1.start_wall_us, 0);
  EXPECT_FALSE(records_.all[1].cold_start);  // waited behind r1, not for a start
  EXPECT_EQ(records_.all[1].queue_us, 2'030'000);
  EXPECT_FALSE(records_.all[2].cold_start);
}

}  // namespace
}  // namespace kumo::scheduler
