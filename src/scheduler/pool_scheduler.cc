#include "scheduler/pool_scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <utility>

namespace kumo::scheduler {
namespace {

int64_t micros(Duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

executor::Reply crash_reply(std::string type, std::string message) {
  executor::Reply r;
  r.outcome = executor::Outcome::kCrash;
  r.error_type = std::move(type);
  r.error_message = std::move(message);
  return r;
}

void append(Actions& to, Actions from) {
  auto move_all = [](auto& dst, auto& src) {
    for (auto& x : src) {
      dst.push_back(std::move(x));
    }
  };
  move_all(to.launches, from.launches);
  move_all(to.dispatches, from.dispatches);
  move_all(to.failures, from.failures);
  move_all(to.stops, from.stops);
  move_all(to.retired, from.retired);
  move_all(to.events, from.events);
}

}  // namespace

// Routes one instance's callbacks to its pool by (function, pool id, token): the executor's
// instance id is not known until launch() returns, and callbacks may come before that.
class PoolScheduler::SlotObserver final : public executor::InstanceObserver {
 public:
  SlotObserver(PoolScheduler& s, std::string function, uint64_t pool_id, uint64_t token)
      : s_(s), function_(std::move(function)), pool_id_(pool_id), token_(token) {}

  void on_ready(const std::string&) override {
    s_.instance_event(function_, pool_id_,
                      [&](Pool& p, TimePoint now) { return p.on_ready(token_, now); });
  }
  void on_init_failed(const std::string&, const executor::Reply& error) override {
    s_.instance_event(function_, pool_id_,
                      [&](Pool& p, TimePoint now) { return p.on_init_failed(token_, error, now); });
  }
  void on_exit(const std::string&, const executor::ExitInfo& info) override {
    s_.instance_event(function_, pool_id_,
                      [&](Pool& p, TimePoint now) { return p.on_exit(token_, info, now); });
  }

 private:
  PoolScheduler& s_;
  std::string function_;
  uint64_t pool_id_;
  uint64_t token_;
};

PoolScheduler::PoolScheduler(executor::Launcher& launcher, const Clock& clock,
                             InvocationObserver& invocations, ScaleObserver& scaling, KpaConfig kpa,
                             GpuInventory gpus)
    : launcher_(launcher),
      clock_(clock),
      invocations_(invocations),
      scaling_(scaling),
      kpa_(kpa),
      gpus_(std::move(gpus)) {}

// Waits for every retired instance to be free of running actions before destroying it:
// dropping the last reference on the instance's own thread would make it join itself.
PoolScheduler::~PoolScheduler() {
  shutdown();
  std::unique_lock lock(mu_);
  while (!graveyard_.empty()) {
    std::vector<SlotPtr> dead;
    std::vector<SlotPtr> kept;
    for (SlotPtr& s : graveyard_) {
      (s.use_count() == 1 ? dead : kept).push_back(std::move(s));
    }
    graveyard_.swap(kept);
    if (dead.empty()) {
      released_.wait(lock);
      continue;
    }
    lock.unlock();
    dead.clear();  // waits for the instances' threads, which may still take mu_
    lock.lock();
  }
}

void PoolScheduler::configure(const PoolConfig& config) {
  const std::string& name = config.launch.function;
  Actions actions;
  uint64_t id = 0;
  int replaced = 0;  // the version this one replaces
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      return;
    }
    auto it = pools_.find(name);
    if (it == pools_.end()) {
      Entry e{next_pool_id_++, std::make_unique<Pool>(config, kpa_, clock_.now(), &gpus_)};
      it = pools_.emplace(name, std::move(e)).first;
    } else if (it->second.pool->config().launch.version != config.launch.version) {
      replaced = it->second.pool->config().launch.version;
    }
    id = it->second.id;
    actions = it->second.pool->configure(config, clock_.now());  // starts min_instances
    wake_gpu_waiters_locked(clock_.now());
  }
  run(name, id, std::move(actions));
  // Its template (zygote) exits once the old instances are gone.
  if (replaced != 0) launcher_.release_version(name, replaced);
}

void PoolScheduler::remove(const std::string& function) {
  Actions actions;
  uint64_t id = 0;
  int version = 0;
  {
    std::lock_guard lock(mu_);
    auto it = pools_.find(function);
    if (it == pools_.end()) {
      return;
    }
    id = it->second.id;
    version = it->second.pool->config().launch.version;
    actions = it->second.pool->drain_all(
        crash_reply("FunctionRemoved", fmt::format("function '{}' was removed", function)));
    pools_.erase(it);
    wake_gpu_waiters_locked(clock_.now());
  }
  run(function, id, std::move(actions));
  run_woken();
  launcher_.release_version(function, version);
}

Result<void> PoolScheduler::invoke(const std::string& function, executor::Invocation inv,
                                   executor::ReplyHandler handler) {
  Actions actions;
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      return make_error(ErrorCode::kUnavailable, "the server is shutting down; retry shortly");
    }
    auto it = pools_.find(function);
    if (it == pools_.end()) {
      return make_error(
          ErrorCode::kNotFound,
          fmt::format("function '{}' not found; `kumo ls` lists the deployed ones", function));
    }
    id = it->second.id;
    auto r = it->second.pool->submit(std::move(inv), std::move(handler), clock_.now());
    if (!r) {
      return r.error();
    }
    actions = std::move(*r);
    wake_gpu_waiters_locked(clock_.now());
  }
  run(function, id, std::move(actions));
  return {};
}

PoolStats PoolScheduler::stats(const std::string& function) const {
  std::lock_guard lock(mu_);
  auto it = pools_.find(function);
  return it == pools_.end() ? PoolStats{} : it->second.pool->stats();
}

Result<void> PoolScheduler::check(const PoolConfig& config) const {
  std::lock_guard lock(mu_);
  return gpus_.check(config.launch.function, config.gpu);
}

GpuCounts PoolScheduler::gpus() const {
  std::lock_guard lock(mu_);
  return {gpus_.total(), gpus_.free_count()};
}

void PoolScheduler::tick() {
  std::vector<PoolWork> work;
  {
    std::lock_guard lock(mu_);
    TimePoint now = clock_.now();
    for (auto& [name, e] : pools_) {
      work.push_back({name, e.id, e.pool->tick(now)});
    }
    if (PoolWork freed = free_idle_gpus_locked(); !freed.actions.empty()) {
      work.push_back(std::move(freed));
    }
    wake_gpu_waiters_locked(now);
  }
  for (PoolWork& w : work) {
    run(w.function, w.id, std::move(w.actions));
  }
  run_woken();
  collect_garbage();
}

void PoolScheduler::shutdown() {
  std::vector<PoolWork> work;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    auto reply = crash_reply("ShuttingDown", "the server is shutting down; retry shortly");
    for (auto& [name, e] : pools_) {
      work.push_back({name, e.id, e.pool->drain_all(reply)});
    }
    pools_.clear();
  }
  for (PoolWork& w : work) {
    run(w.function, w.id, std::move(w.actions));
  }
  collect_garbage();
}

Pool* PoolScheduler::find_locked(const std::string& function, uint64_t pool_id) {
  auto it = pools_.find(function);
  if (it == pools_.end() || it->second.id != pool_id) {
    return nullptr;
  }
  return it->second.pool.get();
}

// Carries out a pool's decisions with mu_ released. Launches and completions can decide
// more, so it loops until nothing is left.
void PoolScheduler::run(const std::string& function, uint64_t pool_id, Actions actions) {
  if (actions.empty()) {
    return;
  }
  while (!actions.empty()) {
    for (const ScaleEvent& e : actions.events) {
      scaling_.on_scale(function, e.what, e.instances);
    }
    for (FailAction& f : actions.failures) {
      fail(function, f);
    }
    for (const SlotPtr& s : actions.stops) {
      s->instance->stop();
    }
    if (!actions.retired.empty()) {
      std::lock_guard lock(mu_);
      for (SlotPtr& s : actions.retired) {
        graveyard_.push_back(std::move(s));
      }
    }
    for (DispatchAction& d : actions.dispatches) {
      dispatch(function, pool_id, d);
    }
    Actions next;
    for (LaunchAction& l : actions.launches) {
      append(next, launch(function, pool_id, l));
    }
    actions = std::move(next);
  }
  std::vector<PoolWork> woken;
  {
    std::lock_guard lock(mu_);  // also orders the notify after a waiter's use_count() check
    woken.swap(woken_);
  }
  released_.notify_all();
  for (PoolWork& w : woken) {
    run(w.function, w.id, std::move(w.actions));
  }
}

Actions PoolScheduler::launch(const std::string& function, uint64_t pool_id, LaunchAction& action) {
  auto observer = std::make_unique<SlotObserver>(*this, function, pool_id, action.token);
  auto launched = launcher_.launch(action.spec, *observer);
  std::lock_guard lock(mu_);
  Pool* pool = find_locked(function, pool_id);
  if (!launched) {
    if (pool == nullptr) return {};
    Actions failed = pool->launch_failed(action.token, launched.error(), clock_.now());
    wake_gpu_waiters_locked(clock_.now());
    return failed;
  }
  auto slot = std::make_shared<InstanceSlot>();
  slot->observer = std::move(observer);
  slot->instance = std::move(*launched);
  if (pool) {
    return pool->attach(action.token, std::move(slot), clock_.now());
  }
  Actions orphan;  // the pool went away while this instance started
  orphan.stops.push_back(slot);
  orphan.retired.push_back(std::move(slot));
  return orphan;
}

// Wraps the caller's handler: on completion the pool learns of the free slot first, then
// any queued request is sent to the slot, then metering and the caller hear of the reply.
void PoolScheduler::dispatch(const std::string& function, uint64_t pool_id, DispatchAction& d) {
  InvocationRecord base;
  base.function = function;
  base.version = d.version;
  base.request_id = d.request.inv.request_id;
  base.start_wall_us = wall_micros();  // plus any wait inside the instance, on completion
  base.queue_us = micros(d.dispatched - d.request.enqueued);
  base.memory_mb = d.memory_mb;
  base.cold_start = d.cold_start;

  // A request sent ahead to a busy instance that then died never ran: it goes back to the
  // pool (so it keeps a copy of what it needs for that).
  std::optional<std::pair<executor::Invocation, executor::ReplyHandler>> retry;
  if (d.pipelined) retry.emplace(d.request.inv, d.request.handler);

  executor::ReplyHandler wrapped;
  wrapped.on_stream_start = std::move(d.request.handler.on_stream_start);
  wrapped.on_chunk = std::move(d.request.handler.on_chunk);
  wrapped.wait = std::move(d.request.handler.wait);
  wrapped.gone = std::move(d.request.handler.gone);
  wrapped.on_done = [this, function, pool_id, token = d.token, dispatched = d.dispatched,
                     record = std::move(base), retry = std::move(retry),
                     done = std::move(d.request.handler.on_done)](executor::Reply reply) mutable {
    TimePoint now = clock_.now();
    Actions next;
    {
      std::lock_guard lock(mu_);
      if (Pool* pool = find_locked(function, pool_id)) {
        next = pool->on_complete(token, reply.outcome, now);
        wake_gpu_waiters_locked(now);
      }
    }
    // The next queued request goes to the instance before this reply goes out, so the
    // function works on it while this thread answers the caller.
    run(function, pool_id, std::move(next));
    if (!reply.started && retry && invoke(function, std::move(retry->first),
                                          std::move(retry->second))) {
      return;
    }
    // Time spent inside the instance behind another invocation (sent ahead) is queueing:
    // billed duration is the handler's own time.
    Duration served = now - dispatched;
    Duration waited = std::clamp<Duration>(std::chrono::duration_cast<Duration>(reply.waited),
                                           Duration::zero(), served);
    record.start_wall_us += micros(waited);
    record.queue_us += micros(waited);
    record.duration_us = micros(served - waited);
    record.outcome = reply.outcome;
    invocations_.on_invocation(record);
    if (done) {
      done(std::move(reply));
    }
  };
  d.slot->instance->invoke(std::move(d.request.inv), std::move(wrapped));
}

void PoolScheduler::fail(const std::string& function, FailAction& f) {
  InvocationRecord record;
  record.function = function;
  record.version = f.version;
  record.request_id = f.request.inv.request_id;
  record.start_wall_us = wall_micros();
  record.queue_us = micros(clock_.now() - f.request.enqueued);
  record.memory_mb = f.memory_mb;
  record.outcome = f.reply.outcome;
  invocations_.on_invocation(record);
  if (f.request.handler.on_done) {
    f.request.handler.on_done(std::move(f.reply));
  }
}

void PoolScheduler::instance_event(const std::string& function, uint64_t pool_id,
                                   const std::function<Actions(Pool&, TimePoint)>& event) {
  Actions actions;
  {
    std::lock_guard lock(mu_);
    Pool* pool = find_locked(function, pool_id);
    if (pool == nullptr) {
      return;
    }
    actions = event(*pool, clock_.now());
    wake_gpu_waiters_locked(clock_.now());
  }
  run(function, pool_id, std::move(actions));
  run_woken();
}

// After devices came free: the pools that wait for devices get another try, oldest waiting
// request first. Cheap when nothing was released (one comparison), as it runs on every call.
void PoolScheduler::wake_gpu_waiters_locked(TimePoint now) {
  if (gpus_.releases() == seen_releases_) return;
  seen_releases_ = gpus_.releases();
  std::vector<std::pair<TimePoint, std::string>> waiting;
  for (const auto& [name, e] : pools_) {
    if (auto since = e.pool->waiting_for_gpus_since()) waiting.emplace_back(*since, name);
  }
  std::sort(waiting.begin(), waiting.end());
  for (const auto& [since, name] : waiting) {
    Entry& e = pools_.at(name);
    woken_.push_back({name, e.id, e.pool->resume(now)});
  }
}

// A function waits for devices that idle instances of another hold: the instance idle the
// longest gives them up (one per tick) rather than keep them until its idle_timeout.
PoolScheduler::PoolWork PoolScheduler::free_idle_gpus_locked() {
  std::optional<std::pair<TimePoint, const Pool*>> waiter;
  for (const auto& [name, e] : pools_) {
    auto since = e.pool->waiting_for_gpus_since();
    if (since && (!waiter || *since < waiter->first)) waiter.emplace(*since, e.pool.get());
  }
  if (!waiter || waiter->second->config().gpu <= gpus_.free_count()) return {};
  const std::string* idlest = nullptr;
  TimePoint idle_since{};
  for (const auto& [name, e] : pools_) {
    auto since = e.pool->idle_gpus_since();
    if (since && (idlest == nullptr || *since < idle_since)) {
      idlest = &name;
      idle_since = *since;
    }
  }
  if (idlest == nullptr) return {};
  Entry& e = pools_.at(*idlest);
  return {*idlest, e.id, e.pool->give_up_idle_gpus()};
}

void PoolScheduler::run_woken() {
  std::vector<PoolWork> work;
  {
    std::lock_guard lock(mu_);
    if (woken_.empty()) return;
    work.swap(woken_);
  }
  for (PoolWork& w : work) {
    run(w.function, w.id, std::move(w.actions));
  }
}

// Destroys retired instances that no running action still holds. Only called from tick(),
// shutdown() and the destructor, never from an instance's own thread.
void PoolScheduler::collect_garbage() {
  std::vector<SlotPtr> dead;
  {
    std::lock_guard lock(mu_);
    std::vector<SlotPtr> kept;
    for (SlotPtr& s : graveyard_) {
      (s.use_count() == 1 ? dead : kept).push_back(std::move(s));
    }
    graveyard_.swap(kept);
  }
  dead.clear();
}

}  // namespace kumo::scheduler
