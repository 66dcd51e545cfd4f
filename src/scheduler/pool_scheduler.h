// PoolScheduler: the Scheduler over an executor::Launcher, one Pool per function.
//
// Each public call and each instance callback takes the one mutex, asks the function's Pool
// what to do, releases the mutex and then carries the actions out: launch, invoke, stop and
// the callers' on_done all run unlocked, so an executor callback may arrive at any time.
//
// Every accepted request gets on_done exactly once: from its instance; with kThrottled when
// it waited past its timeout; with the instance's init error when its start failed; with
// kCrash and error_type "FunctionRemoved" (remove()) or "ShuttingDown" (shutdown()) when it
// was still queued. Each of them is also reported to the InvocationObserver, just before
// on_done (a request refused at once with kThrottled or kNotFound is not: it was never
// accepted).
//
// Devices: the scheduler owns the server's GpuInventory. When an instance gives its devices
// back, the pools waiting for devices get another try, oldest waiting request first (so a
// function can wait for another function's instance to stop). While a function waits for
// devices, tick() stops one idle instance with devices per call (of any function, above its
// min_instances) instead of letting it keep them until its idle_timeout.
//
// Ownership: instances belong to the pools; an instance the pool lets go of is stopped and
// destroyed later by tick(), shutdown() or the destructor, never on an executor thread
// (destroying an instance waits for its threads, so it must not happen on one of them). The
// Launcher, Clock and observers must outlive this object. Thread-safe, except that
// shutdown() and the destructor must not be called from a ReplyHandler.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "executor/instance.h"
#include "scheduler/autoscaler.h"
#include "scheduler/gpu_inventory.h"
#include "scheduler/pool.h"
#include "scheduler/scheduler.h"

namespace kumo::scheduler {

class PoolScheduler final : public Scheduler {
 public:
  PoolScheduler(executor::Launcher& launcher, const Clock& clock, InvocationObserver& invocations,
                ScaleObserver& scaling, KpaConfig kpa = {}, GpuInventory gpus = {});
  ~PoolScheduler() override;

  PoolScheduler(const PoolScheduler&) = delete;
  PoolScheduler& operator=(const PoolScheduler&) = delete;

  void configure(const PoolConfig& config) override;
  void remove(const std::string& function) override;
  Result<void> invoke(const std::string& function, executor::Invocation inv,
                      executor::ReplyHandler handler) override;
  PoolStats stats(const std::string& function) const override;
  Result<void> check(const PoolConfig& config) const override;
  GpuCounts gpus() const override;
  void tick() override;
  void shutdown() override;

 private:
  class SlotObserver;
  struct Entry {
    uint64_t id = 0;  // tells a pool from a later one of the same name
    std::unique_ptr<Pool> pool;
  };
  // Actions a pool decided under the lock, to run after it is released.
  struct PoolWork {
    std::string function;
    uint64_t id;
    Actions actions;
  };

  Pool* find_locked(const std::string& function, uint64_t pool_id);
  void run(const std::string& function, uint64_t pool_id, Actions actions);
  Actions launch(const std::string& function, uint64_t pool_id, LaunchAction& action);
  void dispatch(const std::string& function, uint64_t pool_id, DispatchAction& action);
  void fail(const std::string& function, FailAction& action);
  void instance_event(const std::string& function, uint64_t pool_id,
                      const std::function<Actions(Pool&, TimePoint)>& event);
  void collect_garbage();
  void wake_gpu_waiters_locked(TimePoint now);
  PoolWork free_idle_gpus_locked();
  void run_woken();

  executor::Launcher& launcher_;
  const Clock& clock_;
  InvocationObserver& invocations_;
  ScaleObserver& scaling_;
  const KpaConfig kpa_;

  mutable std::mutex mu_;
  // Notified when run() has let go of its actions (and the instances they held).
  std::condition_variable released_;
  std::map<std::string, Entry> pools_;  // Guarded by mu_.
  std::vector<SlotPtr> graveyard_;      // Guarded by mu_.
  uint64_t next_pool_id_ = 1;           // Guarded by mu_.
  bool shut_down_ = false;              // Guarded by mu_.
  GpuInventory gpus_;                   // Guarded by mu_.
  uint64_t seen_releases_ = 0;          // Guarded by mu_.
  // Pools given another try after devices came free; run at the end of run() or tick().
  std::vector<PoolWork> woken_;  // Guarded by mu_.
};

}  // namespace kumo::scheduler
