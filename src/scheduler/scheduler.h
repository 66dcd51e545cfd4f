// Scheduler: one pool of instances per function; routes each invocation to an instance with
// a free slot, starts instances when all are busy (up to max_instances), queues requests
// beyond that (429 when the queue is full or a request could not start before its timeout),
// and reclaims instances idle past idle_timeout down to the autoscaler's floor.
//
// Threading: all public methods are thread-safe. ReplyHandler callbacks run on executor
// threads. tick() is called periodically by a ticker thread owned by the caller (the server),
// so the decisions themselves are plain synchronous code driven by the injected Clock.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "executor/instance.h"

namespace kumo::scheduler {

// What a pool needs to know about its function's current version.
struct PoolConfig {
  executor::LaunchSpec launch;  // function, version, runtime, handler, code_dir, limits, env
  int min_instances = 0;
  int max_instances = 10;
  int max_queue = 100;
  std::chrono::milliseconds idle_timeout{60'000};
  int gpu = 0;  // devices each instance needs (CUDA_VISIBLE_DEVICES is set to them)
};

// One finished invocation, as metering records it.
struct InvocationRecord {
  std::string function;
  int version = 0;
  std::string request_id;
  int64_t start_wall_us = 0;   // when its handler began, Unix epoch µs
  int64_t duration_us = 0;     // the handler's time: from its start to its reply (billed)
  // Waiting before it began: in the pool's queue (including a cold start) and inside the
  // instance behind another invocation (sent ahead, executor::Reply::waited).
  int64_t queue_us = 0;
  int memory_mb = 0;
  bool cold_start = false;     // it waited in the queue for an instance that was starting
  executor::Outcome outcome = executor::Outcome::kOk;
};

// Implemented by metering (and metrics); called once per finished invocation, from the
// thread that finished it. Must be quick and thread-safe.
class InvocationObserver {
 public:
  virtual ~InvocationObserver() = default;
  virtual void on_invocation(const InvocationRecord& record) = 0;
};

// Live counts for `GET /api/v1/functions/{name}` and /metrics.
struct PoolStats {
  int starting = 0;
  int busy = 0;   // ready, serving at least one invocation
  int idle = 0;   // ready, serving none
  int queued = 0;
  int desired = 0;  // the autoscaler's current target
  int gpus = 0;     // devices its instances hold
  int total() const { return starting + busy + idle; }
};

// The server's accelerator devices, for /metrics.
struct GpuCounts {
  int total = 0;
  int free = 0;
};

// Events worth a log line; the server implements it with spdlog.
class ScaleObserver {
 public:
  virtual ~ScaleObserver() = default;
  virtual void on_scale(const std::string& function, const std::string& what, int instances) = 0;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Creates the pool or switches it to a new version (old instances drain, then stop).
  virtual void configure(const PoolConfig& config) = 0;
  // Removes the pool: queued requests end with Outcome::kCrash and error_type
  // "FunctionRemoved", instances stop (what they serve ends with kCrash).
  virtual void remove(const std::string& function) = 0;
  // Runs one invocation. On success handler.on_done is later called exactly once (a request
  // that waits in the queue past its timeout ends with Outcome::kThrottled). Errors known at
  // once return without calling the handler: kNotFound (no such pool), kThrottled (queue full).
  virtual Result<void> invoke(const std::string& function, executor::Invocation inv,
                              executor::ReplyHandler handler) = 0;
  virtual PoolStats stats(const std::string& function) const = 0;
  // kInvalidArgument when the function could never start here (its gpu is more than the
  // server's devices); checked before a deploy is accepted.
  virtual Result<void> check(const PoolConfig& config) const {
    (void)config;
    return {};
  }
  virtual GpuCounts gpus() const { return {}; }
  // Applies timeouts, idle reclaim and autoscaler decisions as of clock.now().
  virtual void tick() = 0;
  // Stops every instance (server shutdown).
  virtual void shutdown() = 0;
};

}  // namespace kumo::scheduler
