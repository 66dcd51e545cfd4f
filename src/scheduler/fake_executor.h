// Test doubles for the executor interface: a FakeLauncher that records each launch and
// FakeInstances whose callbacks the test fires by hand, synchronously, so scheduler tests
// need no processes, threads or sleeps. Given a clock, an instance reports in Reply::waited
// how long each invocation waited behind the `concurrency` ones before it, as a real one
// does for invocations sent ahead. For tests only; not thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/clock.h"
#include "executor/instance.h"

namespace kumo::scheduler::testing {

class FakeInstance final : public executor::Instance {
 public:
  struct Call {
    executor::Invocation inv;
    executor::ReplyHandler handler;
    TimePoint sent{};
    std::optional<TimePoint> began;  // unset while it waits behind others
  };

  FakeInstance(std::string id, executor::LaunchSpec spec, executor::InstanceObserver& observer,
               bool* destroyed, int pipeline_depth = 0, const Clock* clock = nullptr)
      : id_(std::move(id)),
        spec_(std::move(spec)),
        observer_(observer),
        destroyed_(destroyed),
        pipeline_depth_(pipeline_depth),
        clock_(clock) {}
  // Like a real instance, destruction kills the process: what it still serves ends with kCrash.
  ~FakeInstance() override {
    while (!calls_.empty()) complete(executor::Outcome::kCrash);
    *destroyed_ = true;
  }

  const std::string& id() const override { return id_; }
  void invoke(executor::Invocation inv, executor::ReplyHandler handler) override {
    TimePoint now = clock_ ? clock_->now() : TimePoint{};
    std::optional<TimePoint> began;
    if (calls_.size() < slots()) began = now;
    calls_.push_back({std::move(inv), std::move(handler), now, began});
  }
  void stop() override { stopped_ = true; }
  int64_t pss_bytes() const override { return 0; }
  int pipeline_depth() const override { return pipeline_depth_; }

  // ---- driven by the test ----
  void ready() { observer_.on_ready(id_); }
  void fail_init(std::string type, std::string message) {
    executor::Reply r;
    r.outcome = executor::Outcome::kInitError;
    r.error_type = std::move(type);
    r.error_message = std::move(message);
    observer_.on_init_failed(id_, r);
  }
  // Finishes the oldest invocation still in flight.
  void complete(executor::Outcome outcome = executor::Outcome::kOk, std::string body = "{}",
                bool started = true) {
    KUMO_CHECK(!calls_.empty());
    Call call = std::move(calls_.front());
    calls_.pop_front();
    TimePoint now = clock_ ? clock_->now() : TimePoint{};
    for (size_t i = 0; i < calls_.size() && i < slots(); ++i) {
      if (!calls_[i].began) calls_[i].began = now;  // the next one begins as this one ends
    }
    executor::Reply r;
    r.outcome = outcome;
    r.body = std::move(body);
    r.started = started;
    r.waited = std::chrono::duration_cast<std::chrono::microseconds>(
        (started && call.began ? *call.began : now) - call.sent);
    call.handler.on_done(std::move(r));
  }
  // The process dies: what it serves ends with kCrash (or kOom), then on_exit.
  void exit(bool oom = false) {
    while (!calls_.empty()) complete(oom ? executor::Outcome::kOom : executor::Outcome::kCrash);
    executor::ExitInfo info;
    info.oom = oom;
    info.signal = 9;
    observer_.on_exit(id_, info);
  }
  // What a real instance does after stop(): in-flight work ends with kCrash, then on_exit.
  void finish_stop() {
    while (!calls_.empty()) complete(executor::Outcome::kCrash);
    executor::ExitInfo info;
    info.requested = true;
    info.signal = 9;
    observer_.on_exit(id_, info);
  }

  const executor::LaunchSpec& spec() const { return spec_; }
  size_t in_flight() const { return calls_.size(); }
  // Invocations it runs at once; the others wait behind them.
  size_t slots() const { return static_cast<size_t>(std::max(1, spec_.concurrency)); }
  const std::deque<Call>& calls() const { return calls_; }
  bool stopped() const { return stopped_; }

 private:
  std::string id_;
  executor::LaunchSpec spec_;
  executor::InstanceObserver& observer_;
  bool* destroyed_;
  int pipeline_depth_;
  const Clock* clock_;  // null: every reply says it waited 0
  std::deque<Call> calls_;
  bool stopped_ = false;
};

class FakeLauncher final : public executor::Launcher {
 public:
  // With a clock (which must outlive it), its instances report how long invocations waited.
  explicit FakeLauncher(const Clock* clock = nullptr) : clock_(clock) {}

  Result<std::unique_ptr<executor::Instance>> launch(
      const executor::LaunchSpec& spec, executor::InstanceObserver& observer) override {
    if (fail_next_) {
      fail_next_ = false;
      return make_error(ErrorCode::kInternal, "no such code directory");
    }
    auto id = "i" + std::to_string(launched_.size() + 1);
    destroyed_.push_back(std::make_unique<bool>(false));
    auto instance = std::make_unique<FakeInstance>(id, spec, observer, destroyed_.back().get(),
                                                   pipeline_depth_, clock_);
    launched_.push_back(instance.get());
    return std::unique_ptr<executor::Instance>(std::move(instance));
  }

  void fail_next_launch() { fail_next_ = true; }
  // Instances launched from now on take this many invocations ahead of time.
  void set_pipeline_depth(int depth) { pipeline_depth_ = depth; }
  size_t launches() const { return launched_.size(); }
  // The i-th instance launched (0-based). Valid until the scheduler destroys it.
  FakeInstance& at(size_t i) {
    KUMO_CHECK(i < launched_.size() && !*destroyed_[i]);
    return *launched_[i];
  }
  bool destroyed(size_t i) const { return *destroyed_[i]; }

 private:
  std::vector<FakeInstance*> launched_;
  std::vector<std::unique_ptr<bool>> destroyed_;
  const Clock* clock_;
  bool fail_next_ = false;
  int pipeline_depth_ = 0;
};

}  // namespace kumo::scheduler::testing
