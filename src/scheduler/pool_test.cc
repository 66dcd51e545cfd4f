// Pool on its own: the decisions, with no scheduler, executor or threads.
#include "scheduler/pool.h"

#include <gtest/gtest.h>

namespace kumo::scheduler {
namespace {

using std::chrono::seconds;

class PoolTest : public ::testing::Test {
 protected:
  static PoolConfig config() {
    PoolConfig c;
    c.launch.function = "detect";
    c.launch.version = 1;
    c.max_instances = 3;
    return c;
  }
  Actions submit(const std::string& id) {
    executor::Invocation inv;
    inv.request_id = id;
    auto r = pool_.submit(std::move(inv), {}, now_);
    EXPECT_TRUE(r.has_value());
    return r ? std::move(*r) : Actions{};
  }

  TimePoint now_ = TimePoint(std::chrono::hours(1));
  Pool pool_{config(), KpaConfig{}, now_};
};

TEST_F(PoolTest, ReadyBeforeLaunchReturnsWaitsForTheInstanceToBeAttached) {
  // The executor may report readiness before launch() has handed the instance back.
  Actions a = submit("r1");
  ASSERT_EQ(a.launches.size(), 1u);
  uint64_t token = a.launches[0].token;
  EXPECT_TRUE(pool_.on_ready(token, now_).dispatches.empty());
  Actions b = pool_.attach(token, std::make_shared<InstanceSlot>(), now_);
  ASSERT_EQ(b.dispatches.size(), 1u);
  EXPECT_EQ(b.dispatches[0].request.inv.request_id, "r1");
  EXPECT_TRUE(b.dispatches[0].cold_start);
}

TEST_F(PoolTest, AnInstanceThatArrivesAfterItsPoolGaveUpIsStopped) {
  Actions a = submit("r1");
  uint64_t token = a.launches[0].token;
  Actions drained = pool_.drain_all(executor::Reply{});
  EXPECT_EQ(drained.failures.size(), 1u);
  auto slot = std::make_shared<InstanceSlot>();
  Actions b = pool_.attach(token, slot, now_);
  ASSERT_EQ(b.stops.size(), 1u);
  EXPECT_EQ(b.stops[0], slot);
  EXPECT_EQ(b.retired.size(), 1u);
}

TEST_F(PoolTest, QueueingStartsOnlyAsManyInstancesAsTheQueueNeeds) {
  PoolConfig c = config();
  c.launch.concurrency = 4;
  pool_.configure(c, now_);
  size_t launches = 0;
  for (int i = 0; i < 6; ++i) launches += submit("r" + std::to_string(i)).launches.size();
  EXPECT_EQ(launches, 2u);  // 6 requests, 4 per instance
  EXPECT_EQ(pool_.stats().starting, 2);
  EXPECT_EQ(pool_.stats().queued, 6);
}

TEST_F(PoolTest, CrashedInstanceTakesNoMoreRequestsBeforeItsExitIsReported) {
  PoolConfig c = config();
  c.max_instances = 1;
  pool_.configure(c, now_);
  uint64_t token = submit("r1").launches[0].token;
  pool_.attach(token, std::make_shared<InstanceSlot>(), now_);
  pool_.on_ready(token, now_);
  submit("r2");
  Actions a = pool_.on_complete(token, executor::Outcome::kCrash, now_);
  EXPECT_TRUE(a.dispatches.empty());  // r2 does not follow r1 into a dead process
  EXPECT_EQ(a.launches.size(), 1u);   // it gets a fresh instance instead
}

TEST_F(PoolTest, StatsCountStartingBusyIdleAndQueued) {
  uint64_t t1 = submit("r1").launches[0].token;
  pool_.attach(t1, std::make_shared<InstanceSlot>(), now_);
  pool_.on_ready(t1, now_);
  submit("r2");
  PoolStats s = pool_.stats();
  EXPECT_EQ(s.busy, 1);
  EXPECT_EQ(s.starting, 1);
  EXPECT_EQ(s.queued, 1);
  EXPECT_EQ(s.total(), 2);
  pool_.on_complete(t1, executor::Outcome::kOk, now_ + seconds(1));
  s = pool_.stats();
  EXPECT_EQ(s.busy, 1);  // r2 took the freed slot
  EXPECT_EQ(s.queued, 0);
}

}  // namespace
}  // namespace kumo::scheduler
