// The scheduler with a GPU inventory: instances start only while their devices
// are free, are pinned to them, and give them back however they end.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>

#include "scheduler/fake_executor.h"
#include "scheduler/pool_scheduler.h"

namespace kumo::scheduler {
namespace {

using executor::Outcome;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeInstance;
using testing::FakeLauncher;

struct NoRecords final : InvocationObserver {
  void on_invocation(const InvocationRecord&) override {}
};

struct ScaleLog final : ScaleObserver {
  void on_scale(const std::string& function, const std::string& what, int) override {
    lines.push_back(function + ": " + what);
  }
  std::vector<std::string> lines;
};

struct Caller {
  int done = 0;
  executor::Reply reply;
};

class GpuSchedulerTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> devices) {
    sched_ = std::make_unique<PoolScheduler>(launcher_, clock_, records_, scale_, KpaConfig{},
                                             GpuInventory(std::move(devices)));
  }
  static PoolConfig config(const std::string& name, int gpu, int max_instances = 10) {
    PoolConfig c;
    c.launch.function = name;
    c.launch.version = 1;
    c.launch.env = {{"MODEL", "small"}};
    c.gpu = gpu;
    c.max_instances = max_instances;
    c.idle_timeout = seconds(60);
    return c;
  }
  Result<void> invoke(const std::string& function, std::string id, Caller& c,
                      milliseconds timeout = seconds(30)) {
    executor::Invocation inv;
    inv.request_id = std::move(id);
    inv.timeout = timeout;
    executor::ReplyHandler h;
    h.on_done = [&c](executor::Reply r) {
      ++c.done;
      c.reply = std::move(r);
    };
    return sched_->invoke(function, std::move(inv), std::move(h));
  }
  Caller& call(const std::string& function, std::string id, milliseconds timeout = seconds(30)) {
    Caller& c = callers_.emplace_back();
    auto r = invoke(function, std::move(id), c, timeout);
    if (!r) ADD_FAILURE() << r.error().message;
    return c;
  }
  FakeInstance& inst(size_t i) { return launcher_.at(i); }
  std::string visible(size_t i) { return inst(i).spec().env.at("CUDA_VISIBLE_DEVICES"); }

  FakeClock clock_;
  FakeLauncher launcher_;
  NoRecords records_;
  ScaleLog scale_;
  std::deque<Caller> callers_;
  std::unique_ptr<PoolScheduler> sched_;
};

TEST_F(GpuSchedulerTest, ConcurrentInstancesGetDistinctDevicesAndTheThirdRequestWaits) {
  start({"0", "1"});
  sched_->configure(config("llm", 1, /*max_instances=*/3));
  call("llm", "r1");
  call("llm", "r2");
  Caller& third = call("llm", "r3");
  ASSERT_EQ(launcher_.launches(),
            2u);  // a third instance would need a third device
  EXPECT_EQ(visible(0), "0");
  EXPECT_EQ(visible(1), "1");
  EXPECT_EQ(inst(1).spec().env.at("NVIDIA_VISIBLE_DEVICES"), "1");
  EXPECT_EQ(inst(1).spec().env.at("MODEL"), "small");                   // the spec's env is kept
  EXPECT_EQ(inst(1).spec().env.at("CUDA_DEVICE_ORDER"), "PCI_BUS_ID");  // nvidia-smi's indices
  EXPECT_FALSE(inst(1).spec().zygote);  // CUDA does not survive a fork from a template
  EXPECT_EQ(sched_->gpus().free, 0);
  EXPECT_EQ(sched_->stats("llm").gpus, 2);

  inst(0).ready();
  inst(1).ready();
  EXPECT_EQ(sched_->stats("llm").queued, 1);
  inst(0).complete(Outcome::kOk, "\"0\"");
  ASSERT_EQ(inst(0).in_flight(),
            1u);  // the waiting request goes to the freed instance
  EXPECT_EQ(inst(0).calls().front().inv.request_id, "r3");
  inst(0).complete(Outcome::kOk, "\"0\"");
  EXPECT_EQ(third.done, 1);
  EXPECT_EQ(launcher_.launches(), 2u);
}

TEST_F(GpuSchedulerTest, SecondFunctionWaitsUntilTheFirstOnesInstanceStops) {
  start({"0"});
  sched_->configure(config("a", 1));
  sched_->configure(config("b", 1));
  Caller& a = call("a", "a1");
  Caller& b = call("b", "b1");
  ASSERT_EQ(launcher_.launches(), 1u);
  EXPECT_EQ(inst(0).spec().function, "a");
  inst(0).ready();
  clock_.advance(seconds(5));
  sched_->tick();
  EXPECT_EQ(launcher_.launches(), 1u);  // a's instance is busy with the device
  EXPECT_EQ(sched_->stats("b").queued, 1);

  inst(0).complete();
  EXPECT_EQ(a.done, 1);
  EXPECT_EQ(launcher_.launches(), 1u);
  sched_->tick();  // b waits: a's idle instance gives the device up, long before idle_timeout
  EXPECT_TRUE(launcher_.destroyed(0));
  ASSERT_EQ(launcher_.launches(), 2u);
  EXPECT_EQ(inst(1).spec().function, "b");
  EXPECT_EQ(visible(1), "0");
  inst(1).ready();
  inst(1).complete();
  EXPECT_EQ(b.done, 1);
  EXPECT_EQ(b.reply.outcome, Outcome::kOk);
  EXPECT_EQ(sched_->stats("a").total(), 0);
}

TEST_F(GpuSchedulerTest, MinInstancesKeepTheirDevicesWhileOthersWait) {
  start({"0"});
  PoolConfig warm = config("warm", 1);
  warm.min_instances = 1;
  sched_->configure(warm);
  sched_->configure(config("other", 1));
  ASSERT_EQ(launcher_.launches(), 1u);
  inst(0).ready();
  Caller& other = call("other", "o1", seconds(5));
  sched_->tick();
  EXPECT_FALSE(launcher_.destroyed(0));
  clock_.advance(seconds(6));
  sched_->tick();
  EXPECT_EQ(other.reply.outcome, Outcome::kThrottled);
  EXPECT_EQ(launcher_.launches(), 1u);
}

TEST_F(GpuSchedulerTest, AnIdleInstanceKeepsItsDevicesWhenTheWaiterIsAtMaxInstances) {
  start({"0", "1"});
  sched_->configure(config("full", 1, /*max_instances=*/1));
  sched_->configure(config("idle", 1));
  call("idle", "i1");
  inst(0).ready();
  inst(0).complete();
  call("full", "f1");
  inst(1).ready();
  call("full", "f2");  // waits for full's own instance, not for a device
  sched_->tick();
  EXPECT_FALSE(launcher_.destroyed(0));
  EXPECT_EQ(sched_->stats("idle").idle, 1);
}

TEST_F(GpuSchedulerTest, ACrashGivesTheDevicesBack) {
  start({"0"});
  sched_->configure(config("llm", 1));
  Caller& first = call("llm", "r1");
  inst(0).ready();
  Caller& second = call("llm", "r2");
  EXPECT_EQ(launcher_.launches(), 1u);
  inst(0).exit(/*oom=*/true);
  EXPECT_EQ(first.reply.outcome, Outcome::kOom);
  ASSERT_EQ(launcher_.launches(),
            2u);  // started at once on the device the crash freed
  EXPECT_EQ(visible(1), "0");
  inst(1).ready();
  inst(1).complete();
  EXPECT_EQ(second.done, 1);
}

TEST_F(GpuSchedulerTest, ATimedOutInstanceHoldsItsDevicesUntilItExits) {
  start({"0"});
  sched_->configure(config("llm", 1));
  call("llm", "r1");
  inst(0).ready();
  call("llm", "r2");
  inst(0).complete(Outcome::kTimeout);  // killed for the timeout; its exit follows
  EXPECT_EQ(launcher_.launches(), 1u);
  EXPECT_EQ(sched_->gpus().free, 0);
  inst(0).finish_stop();
  ASSERT_EQ(launcher_.launches(), 2u);
  EXPECT_EQ(visible(1), "0");
}

TEST_F(GpuSchedulerTest, RemovingAFunctionGivesItsDevicesToAWaitingOne) {
  start({"0", "1"});
  sched_->configure(config("big", 2));
  sched_->configure(config("small", 1));
  call("big", "b1");
  inst(0).ready();
  EXPECT_EQ(visible(0), "0,1");
  Caller& waiting = call("small", "s1");
  EXPECT_EQ(launcher_.launches(), 1u);
  sched_->remove("big");
  ASSERT_EQ(launcher_.launches(), 2u);
  EXPECT_EQ(inst(1).spec().function, "small");
  EXPECT_EQ(visible(1), "0");
  inst(1).ready();
  inst(1).complete();
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(sched_->gpus().free, 1);
}

TEST_F(GpuSchedulerTest, ARequestThatWaitsForADevicePastItsTimeoutSaysSo) {
  start({"0"});
  sched_->configure(config("a", 1));
  sched_->configure(config("b", 1));
  call("a", "a1");
  Caller& b = call("b", "b1", seconds(5));
  clock_.advance(seconds(6));
  sched_->tick();
  ASSERT_EQ(b.done, 1);
  EXPECT_EQ(b.reply.outcome, Outcome::kThrottled);
  EXPECT_NE(b.reply.error_message.find("each instance needs 1 GPU; 0 of 1 free"), std::string::npos)
      << b.reply.error_message;
}

TEST_F(GpuSchedulerTest, MoreDevicesThanTheServerHasIsRefused) {
  start({"0", "1"});
  PoolConfig c = config("huge", 3);
  auto checked = sched_->check(c);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(sched_->check(config("fits", 2)));

  sched_->configure(c);  // deployed earlier, on a server that had more devices
  EXPECT_EQ(scale_.lines.back(),
            "huge: needs 3 GPUs per instance, the server has 2: it cannot start");
  Caller caller;
  auto r = invoke("huge", "r1", caller);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message,
            "function 'huge' needs 3 GPUs per instance but "
            "this server has 2; redeploy with a "
            "lower gpu or restart `kumo serve` with --gpus");
  EXPECT_EQ(launcher_.launches(), 0u);
}

TEST_F(GpuSchedulerTest, FunctionsThatAskForNoDeviceSeeNone) {
  start({"0"});
  sched_->configure(config("cpu", 0));
  call("cpu", "r1");
  ASSERT_EQ(launcher_.launches(), 1u);
  EXPECT_EQ(visible(0), "");
  EXPECT_EQ(inst(0).spec().env.at("NVIDIA_VISIBLE_DEVICES"), "none");
  EXPECT_TRUE(inst(0).spec().zygote);
  EXPECT_EQ(sched_->gpus().free, 1);
}

TEST_F(GpuSchedulerTest, WithoutDevicesTheEnvironmentIsLeftAlone) {
  start({});
  sched_->configure(config("cpu", 0));
  call("cpu", "r1");
  ASSERT_EQ(launcher_.launches(), 1u);
  EXPECT_EQ(inst(0).spec().env.count("CUDA_VISIBLE_DEVICES"), 0u);
}

}  // namespace
}  // namespace kumo::scheduler
