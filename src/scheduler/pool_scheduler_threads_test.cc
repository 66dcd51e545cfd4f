// PoolScheduler under real threads: instances that answer on their own threads, clients on
// several threads, a ticker, and a shutdown in the middle. Checks the promise that matters
// under races: every accepted request gets on_done exactly once, and no instance is ever
// sent more than `concurrency` requests. No sleeps: the threads run as fast as they can.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "scheduler/pool_scheduler.h"

namespace kumo::scheduler {
namespace {

// An instance with its own thread: reports ready, answers each invocation in order, and
// after stop() answers everything with kCrash and reports its exit.
class ThreadedInstance final : public executor::Instance {
 public:
  ThreadedInstance(std::string id, int concurrency, executor::InstanceObserver& observer,
                   std::atomic<bool>& overload, std::atomic<int>& alive)
      : id_(std::move(id)),
        concurrency_(concurrency),
        observer_(observer),
        overload_(overload),
        alive_(alive),
        thread_([this] { loop(); }) {
    ++alive_;
  }
  ~ThreadedInstance() override {
    --alive_;
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      destroying_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  const std::string& id() const override { return id_; }
  void invoke(executor::Invocation, executor::ReplyHandler handler) override {
    {
      std::lock_guard lock(mu_);
      if (++in_flight_ > concurrency_) overload_ = true;
      calls_.push_back(std::move(handler));
    }
    cv_.notify_all();
  }
  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  int64_t pss_bytes() const override { return 0; }

 private:
  void loop() {
    observer_.on_ready(id_);
    std::unique_lock lock(mu_);
    bool exit_reported = false;
    while (true) {
      cv_.wait(lock,
               [&] { return !calls_.empty() || destroying_ || (stopped_ && !exit_reported); });
      if (calls_.empty() && destroying_) return;
      if (!calls_.empty()) {
        executor::ReplyHandler h = std::move(calls_.front());
        calls_.pop_front();
        executor::Reply r;
        r.outcome = stopped_ ? executor::Outcome::kCrash : executor::Outcome::kOk;
        --in_flight_;  // the slot is free before the scheduler hears of it
        lock.unlock();
        h.on_done(std::move(r));
        lock.lock();
      } else if (stopped_ && !exit_reported) {
        exit_reported = true;
        lock.unlock();
        executor::ExitInfo info;
        info.requested = true;
        observer_.on_exit(id_, info);
        lock.lock();
      }
    }
  }

  std::string id_;
  int concurrency_;
  executor::InstanceObserver& observer_;
  std::atomic<bool>& overload_;
  std::atomic<int>& alive_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<executor::ReplyHandler> calls_;
  int in_flight_ = 0;
  bool stopped_ = false;
  bool destroying_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

class ThreadedLauncher final : public executor::Launcher {
 public:
  Result<std::unique_ptr<executor::Instance>> launch(
      const executor::LaunchSpec& spec, executor::InstanceObserver& observer) override {
    int n = ++launched_;
    return std::unique_ptr<executor::Instance>(std::make_unique<ThreadedInstance>(
        "t" + std::to_string(n), spec.concurrency, observer, overload, alive));
  }
  std::atomic<int> launched_{0};
  std::atomic<bool> overload{false};
  std::atomic<int> alive{0};  // instances not yet destroyed
};

struct CountingObserver final : InvocationObserver, ScaleObserver {
  void on_invocation(const InvocationRecord&) override { ++records; }
  void on_scale(const std::string&, const std::string&, int) override {}
  std::atomic<int> records{0};
};

TEST(PoolSchedulerThreads, EveryAcceptedRequestEndsExactlyOnceThroughAShutdown) {
  constexpr int kClients = 4;
  constexpr int kPerClient = 400;
  FakeClock clock;
  ThreadedLauncher launcher;
  CountingObserver observer;
  std::vector<std::atomic<int>> done(kClients * kPerClient);
  std::vector<std::atomic<bool>> accepted(kClients * kPerClient);
  std::atomic<int> accepted_count{0};
  {
    PoolScheduler sched(launcher, clock, observer, observer);
    PoolConfig c;
    c.launch.function = "f";
    c.launch.version = 1;
    c.launch.concurrency = 2;
    c.max_instances = 4;
    c.max_queue = 10'000;
    sched.configure(c);

    std::atomic<bool> stop_ticking{false};
    std::thread ticker([&] {
      while (!stop_ticking) {
        clock.advance(std::chrono::milliseconds(100));
        sched.tick();
      }
    });
    std::vector<std::thread> clients;
    for (int t = 0; t < kClients; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < kPerClient; ++i) {
          int k = t * kPerClient + i;
          executor::Invocation inv;
          inv.request_id = std::to_string(k);
          executor::ReplyHandler h;
          h.on_done = [&done, k](executor::Reply) { ++done[k]; };
          if (sched.invoke("f", std::move(inv), std::move(h))) {
            accepted[k] = true;
            ++accepted_count;
          }
        }
      });
    }
    while (accepted_count < kClients * kPerClient / 2) std::this_thread::yield();
    sched.shutdown();  // in the middle of the load
    for (auto& t : clients) t.join();
    stop_ticking = true;
    ticker.join();
  }  // the scheduler's destructor waits for every instance thread

  EXPECT_EQ(launcher.alive.load(), 0);  // every instance destroyed, none on its own thread
  EXPECT_FALSE(launcher.overload);
  EXPECT_GE(accepted_count.load(), kClients * kPerClient / 2);
  for (int k = 0; k < kClients * kPerClient; ++k) {
    ASSERT_EQ(done[k].load(), accepted[k] ? 1 : 0) << "request " << k;
  }
  EXPECT_EQ(observer.records.load(), accepted_count.load());
}

}  // namespace
}  // namespace kumo::scheduler
