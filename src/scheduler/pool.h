// Pool: the decisions for one function's instances, as plain synchronous logic.
//
// A pool tracks its instances (starting, or ready with a count of invocations in flight), a
// FIFO queue of requests waiting for a free slot, and an Autoscaler. Every method takes the
// current time and returns the Actions the caller must carry out (launch, invoke, stop, fail,
// log); the pool itself never calls the executor, so tests drive it with a fake clock and no
// threads, and PoolScheduler runs the actions with its lock released.
//
// Routing ("pack"): a request goes to a ready instance of the current version with a free
// slot, preferring the most recently used busy-but-not-full one, then the most recently
// used idle one, so the others stay idle and can be reclaimed. Never to a starting one.
//
// Ownership: the pool holds each instance through a shared InstanceSlot; a Dispatch or Stop
// action holds it too, so the Instance outlives the call made on it. A slot the pool lets go
// of is handed back in Actions::retired for the owner to destroy where that is safe.
//
// Devices: an instance of a function with gpu: N starts only when N devices of the shared
// GpuInventory are free; it holds them (CUDA_VISIBLE_DEVICES in its env) until the pool lets
// go of it. Requests wait in the queue meanwhile, as for any instance that cannot start.
// Not thread-safe: PoolScheduler guards each pool with its mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "executor/instance.h"
#include "scheduler/autoscaler.h"
#include "scheduler/gpu_inventory.h"
#include "scheduler/scheduler.h"

namespace kumo::scheduler {

// One instance and the observer its callbacks go to. The observer is declared first so it
// is destroyed last: destroying the instance waits for its threads, which may still call it.
struct InstanceSlot {
  std::unique_ptr<executor::InstanceObserver> observer;
  std::unique_ptr<executor::Instance> instance;
};
using SlotPtr = std::shared_ptr<InstanceSlot>;

// A request accepted by the pool, with its timing.
struct Request {
  executor::Invocation inv;
  executor::ReplyHandler handler;
  TimePoint enqueued{};
  TimePoint deadline{};  // enqueued + inv.timeout: it fails with kThrottled if still queued
  // It waited in the queue for an instance that was starting for it: a cold start, whichever
  // instance serves it in the end.
  bool waited_for_start = false;
};

struct LaunchAction {
  uint64_t token = 0;  // names the instance in later calls (attach, on_ready, ...)
  executor::LaunchSpec spec;
};

struct DispatchAction {
  uint64_t token = 0;
  SlotPtr slot;
  Request request;
  int version = 0;
  int memory_mb = 0;
  bool cold_start = false;  // it waited for an instance to start (Request::waited_for_start)
  TimePoint dispatched{};
  bool pipelined = false;   // sent ahead to a busy instance (see Instance::pipeline_depth)
};

// A request that ends without reaching an instance (expired, init failed, removed).
struct FailAction {
  Request request;
  executor::Reply reply;
  int version = 0;
  int memory_mb = 0;
};

struct ScaleEvent {
  std::string what;   // "scale up", "scale down", "instance crashed", ...
  int instances = 0;  // instances in the pool after the event
};

struct Actions {
  std::vector<LaunchAction> launches;
  std::vector<DispatchAction> dispatches;
  std::vector<FailAction> failures;
  std::vector<SlotPtr> stops;    // call instance->stop()
  std::vector<SlotPtr> retired;  // no longer in the pool: destroy when no action holds it
  std::vector<ScaleEvent> events;

  bool empty() const;
};

class Pool {
 public:
  // `gpus` (shared with the other pools, may be null: no devices) must outlive the pool.
  Pool(PoolConfig config, KpaConfig kpa, TimePoint now, GpuInventory* gpus = nullptr);

  const PoolConfig& config() const { return config_; }
  const std::string& function() const { return config_.launch.function; }

  // Routes a request, or queues it (starting an instance when capacity is short).
  // kThrottled when max_queue requests already wait, kUnavailable when the function needs
  // more devices than the server has; the handler is then not called.
  Result<Actions> submit(executor::Invocation inv, executor::ReplyHandler handler, TimePoint now);

  // Same version: new limits. New version: new requests go to new instances only; old
  // ones finish what they serve and stop.
  Actions configure(PoolConfig config, TimePoint now);

  // Results of a LaunchAction. attach() of a token the pool no longer wants stops the slot.
  Actions attach(uint64_t token, SlotPtr slot, TimePoint now);
  Actions launch_failed(uint64_t token, const Error& error, TimePoint now);

  // Instance callbacks, by the token of its LaunchAction. Unknown tokens are ignored.
  Actions on_ready(uint64_t token, TimePoint now);
  Actions on_init_failed(uint64_t token, const executor::Reply& error, TimePoint now);
  Actions on_exit(uint64_t token, const executor::ExitInfo& info, TimePoint now);
  // An invocation dispatched to `token` finished (its slot is free again). After a crash,
  // OOM or timeout the instance is on its way out: it takes no more requests.
  Actions on_complete(uint64_t token, executor::Outcome outcome, TimePoint now);

  // Expires queued requests, runs the autoscaler, starts and reclaims instances.
  Actions tick(TimePoint now);

  // Fails every queued request with `reply` and stops every instance (remove, shutdown).
  Actions drain_all(const executor::Reply& reply);

  // Retries what waits (devices came free elsewhere): starts instances, routes the queue.
  Actions resume(TimePoint now) { return settle(now, {}); }
  // When the oldest request of a function that needs devices was queued; nullopt if none waits.
  std::optional<TimePoint> waiting_for_gpus_since() const;
  // Since when its longest-idle instance with devices has served nothing, if that instance
  // may give them up to another function (ready, above min_instances); nullopt otherwise.
  std::optional<TimePoint> idle_gpus_since() const;
  // Stops that instance, so another function that waits can have its devices.
  Actions give_up_idle_gpus();

  PoolStats stats() const;

 private:
  struct Member {
    int version = 0;
    int concurrency = 1;
    int memory_mb = 0;
    SlotPtr slot;        // null until attach()
    bool ready = false;  // on_ready seen
    bool dying = false;  // an invocation crashed it; on_exit will follow
    int in_flight = 0;
    int pipeline = 0;       // invocations it takes beyond concurrency (from the instance)
    TimePoint last_used{};  // last dispatch or completion; idle since, when in_flight == 0
    std::vector<std::string> gpus;  // devices it holds, given back when it leaves the pool
  };

  bool usable(const Member& m) const;
  bool current(const Member& m) const { return m.version == config_.launch.version; }
  int count_current(bool starting_only) const;
  int count_ready_current() const;
  uint64_t pick();
  uint64_t pick_busy_with_room();
  int64_t sent_ahead() const;
  int64_t unserved() const;
  void dispatch(uint64_t token, Member& m, Request req, bool cold, TimePoint now, Actions& out,
                bool pipelined = false);
  void dispatch_queue(TimePoint now, Actions& out);
  void send_ahead(TimePoint now, Actions& out);
  void mark_waiting_for_starts();
  void dispatch_fresh(uint64_t token, TimePoint now, Actions& out);
  void expire(TimePoint now, Actions& out);
  void launch(int n, Actions& out, TimePoint now);
  std::string gpu_wait_note() const;
  uint64_t idle_gpu_member() const;
  void scale_out(TimePoint now, Actions& out);
  void scale_down(TimePoint now, Actions& out);
  void drop(uint64_t token, bool stop, Actions& out);
  void fail_front(size_t n, const executor::Reply& reply, Actions& out);
  void init_failed(uint64_t token, const executor::Reply& reply, TimePoint now, Actions& out);
  void observe(TimePoint now);
  Actions settle(TimePoint now, Actions out);

  PoolConfig config_;
  GpuInventory* gpus_;  // shared by every pool; null: the server has none
  Autoscaler autoscaler_;
  std::map<uint64_t, Member> members_;
  std::deque<Request> queue_;
  uint64_t next_token_ = 1;
  int desired_ = 0;
  // Proactive launches (min_instances, the autoscaler's floor) pause after an init failure,
  // so broken code does not restart in a loop; a new request still gets a fresh try.
  TimePoint proactive_after_{};
};

}  // namespace kumo::scheduler
