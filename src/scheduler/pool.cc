#include "scheduler/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "common/check.h"

namespace kumo::scheduler {
namespace {

// How long proactive launches pause after an init failure.
constexpr auto kProactiveRetryDelay = std::chrono::seconds(10);

int64_t millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string describe_exit(const executor::ExitInfo& info) {
  if (info.oom) {
    return "out of memory";
  }
  if (info.signal != 0) {
    return fmt::format("killed by signal {}", info.signal);
  }
  return fmt::format("exit code {}", info.exit_code);
}

// Pins an instance to its devices. When the server has devices, an instance that asked for
// none sees none, so it cannot take memory on a device another instance was given. Indices
// are nvidia-smi's, which CUDA follows only in PCI bus order. An instance with devices runs
// its own init rather than fork from a template: CUDA does not survive a fork, and each
// instance's init must load onto its own devices.
executor::LaunchSpec with_devices(executor::LaunchSpec spec,
                                  const std::vector<std::string>& devices) {
  std::string list = join_devices(devices);
  spec.env["CUDA_VISIBLE_DEVICES"] = list;
  spec.env["NVIDIA_VISIBLE_DEVICES"] = devices.empty() ? "none" : list;
  spec.env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
  if (!devices.empty()) spec.zygote = false;
  return spec;
}

}  // namespace

bool Actions::empty() const {
  return launches.empty() && dispatches.empty() && failures.empty() && stops.empty() &&
         retired.empty() && events.empty();
}

namespace {

// The user's idle_timeout says how long capacity may outlive demand; the KPA's stable window
// must not keep instances longer than that, or scale to zero would take a minute whatever
// the spec says. A floor of one second keeps the averages meaningful.
KpaConfig bounded_by_idle_timeout(KpaConfig kpa, std::chrono::milliseconds idle_timeout) {
  kpa.stable_window =
      std::min(kpa.stable_window, std::max(idle_timeout, std::chrono::milliseconds(1000)));
  return kpa;
}

}  // namespace

Pool::Pool(PoolConfig config, KpaConfig kpa, TimePoint now, GpuInventory* gpus)
    : config_(std::move(config)),
      gpus_(gpus),
      autoscaler_(bounded_by_idle_timeout(kpa, config_.idle_timeout), now),
      proactive_after_(now) {}

Result<Actions> Pool::submit(executor::Invocation inv, executor::ReplyHandler handler,
                             TimePoint now) {
  int devices = gpus_ ? gpus_->total() : 0;
  if (config_.gpu > devices) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("function '{}' needs {} GPU{} per instance but this server "
                                  "has {}; redeploy with a lower gpu or restart `kumo serve` "
                                  "with --gpus",
                                  function(), config_.gpu, config_.gpu == 1 ? "" : "s", devices));
  }
  Request req{std::move(inv), std::move(handler), now, {}, false};
  req.deadline = now + req.inv.timeout;
  Actions out;
  if (queue_.empty()) {
    if (uint64_t token = pick()) {
      dispatch(token, members_.at(token), std::move(req), false, now, out);
      return settle(now, std::move(out));
    }
  }
  auto live = std::count_if(queue_.begin(), queue_.end(),
                            [now](const Request& r) { return r.deadline >= now; });
  if (live >= config_.max_queue) {
    return make_error(ErrorCode::kThrottled,
                      fmt::format("function '{}': {} requests already queued; retry later or "
                                  "raise max_queue",
                                  function(), live));
  }
  queue_.push_back(std::move(req));
  return settle(now, std::move(out));
}

Actions Pool::configure(PoolConfig config, TimePoint now) {
  config_ = std::move(config);
  Actions out;
  int devices = gpus_ ? gpus_->total() : 0;
  if (config_.gpu > devices) {
    out.events.push_back(
        {fmt::format("needs {} GPUs per instance, the server has {}: it cannot start",
                     config_.gpu, devices),
         stats().total()});
  }
  return settle(now, std::move(out));
}

Actions Pool::attach(uint64_t token, SlotPtr slot, TimePoint now) {
  Actions out;
  auto it = members_.find(token);
  if (it == members_.end()) {  // stopped while its launch was under way
    out.stops.push_back(slot);
    out.retired.push_back(std::move(slot));
    return out;
  }
  it->second.slot = std::move(slot);
  const auto& instance = it->second.slot->instance;
  it->second.pipeline = instance ? std::max(0, instance->pipeline_depth()) : 0;
  dispatch_fresh(token, now, out);
  return settle(now, std::move(out));
}

Actions Pool::launch_failed(uint64_t token, const Error& error, TimePoint now) {
  executor::Reply reply;
  reply.outcome = executor::Outcome::kInitError;
  reply.error_type = "LaunchFailed";
  reply.error_message =
      fmt::format("function '{}': could not start an instance: {}", function(), error.message);
  Actions out;
  init_failed(token, reply, now, out);
  return settle(now, std::move(out));
}

Actions Pool::on_ready(uint64_t token, TimePoint now) {
  Actions out;
  auto it = members_.find(token);
  if (it == members_.end()) {
    return out;
  }
  it->second.ready = true;
  it->second.last_used = now;
  proactive_after_ = now;  // the code initialises fine: no reason to hold back
  dispatch_fresh(token, now, out);
  return settle(now, std::move(out));
}

Actions Pool::on_init_failed(uint64_t token, const executor::Reply& error, TimePoint now) {
  Actions out;
  init_failed(token, error, now, out);
  return settle(now, std::move(out));
}

Actions Pool::on_exit(uint64_t token, const executor::ExitInfo& info, TimePoint now) {
  Actions out;
  auto it = members_.find(token);
  if (it == members_.end()) {
    return out;  // we stopped it ourselves
  }
  if (!it->second.ready) {
    executor::Reply reply;
    reply.outcome = executor::Outcome::kInitError;
    reply.error_type = "InitCrash";
    reply.error_message = fmt::format("function '{}': the instance exited during init ({})",
                                      function(), describe_exit(info));
    init_failed(token, reply, now, out);
    return settle(now, std::move(out));
  }
  drop(token, false, out);
  std::string what = info.oom         ? "instance out of memory"
                     : info.requested ? "instance stopped after a timeout"
                                      : "instance crashed";
  out.events.push_back({std::move(what), stats().total()});
  return settle(now, std::move(out));
}

Actions Pool::on_complete(uint64_t token, executor::Outcome outcome, TimePoint now) {
  using executor::Outcome;
  auto it = members_.find(token);
  if (it != members_.end()) {
    KUMO_CHECK(it->second.in_flight > 0);
    --it->second.in_flight;
    it->second.last_used = now;
    if (outcome == Outcome::kCrash || outcome == Outcome::kOom || outcome == Outcome::kTimeout) {
      it->second.dying = true;
    }
  }
  return settle(now, {});
}

Actions Pool::tick(TimePoint now) {
  ScaleInput in;
  in.ready_instances = count_ready_current();
  in.concurrency = std::max(1, config_.launch.concurrency);
  in.min_instances = config_.min_instances;
  in.max_instances = config_.max_instances;
  desired_ = autoscaler_.desired(now, in);
  return settle(now, {});
}

Actions Pool::drain_all(const executor::Reply& reply) {
  Actions out;
  fail_front(queue_.size(), reply, out);
  while (!members_.empty()) {
    drop(members_.begin()->first, true, out);
  }
  desired_ = 0;
  return out;
}

// Requests wait for an instance that could start but for its devices.
std::optional<TimePoint> Pool::waiting_for_gpus_since() const {
  if (config_.gpu == 0 || queue_.empty() || unserved() <= 0 ||
      count_current(false) >= config_.max_instances) {
    return std::nullopt;
  }
  return queue_.front().enqueued;
}

std::optional<TimePoint> Pool::idle_gpus_since() const {
  uint64_t token = idle_gpu_member();
  if (token == 0) return std::nullopt;
  return members_.at(token).last_used;
}

Actions Pool::give_up_idle_gpus() {
  Actions out;
  if (uint64_t token = idle_gpu_member()) {
    drop(token, true, out);
    out.events.push_back({"scale down (its GPUs went to a waiting function)", stats().total()});
  }
  // No settle(): the autoscaler's headroom would start the instance again on the devices
  // just freed. Proactive launches take only devices no waiting request took.
  return out;
}

uint64_t Pool::idle_gpu_member() const {
  if (count_current(false) <= config_.min_instances) return 0;
  uint64_t best = 0;
  for (const auto& [token, m] : members_) {
    if (m.gpus.empty() || !m.ready || !m.slot || m.dying || m.in_flight > 0) continue;
    if (best == 0 || m.last_used < members_.at(best).last_used) best = token;
  }
  return best;
}

PoolStats Pool::stats() const {
  PoolStats s;
  for (const auto& [token, m] : members_) {
    s.gpus += static_cast<int>(m.gpus.size());  // a dying one holds them until it exits
    if (m.dying) {
      continue;  // already gone, as far as anyone can use it
    }
    if (!m.ready || !m.slot) {
      ++s.starting;
    } else if (m.in_flight > 0) {
      ++s.busy;
    } else {
      ++s.idle;
    }
  }
  s.queued = static_cast<int>(queue_.size());
  s.desired = desired_;
  return s;
}

// ---- routing -------------------------------------------------------------------------

bool Pool::usable(const Member& m) const { return m.ready && m.slot && !m.dying && current(m); }

int Pool::count_current(bool starting_only) const {
  return static_cast<int>(std::count_if(members_.begin(), members_.end(), [&](const auto& e) {
    const Member& m = e.second;
    return current(m) && !m.dying && (!starting_only || !m.ready || !m.slot);
  }));
}

int Pool::count_ready_current() const { return count_current(false) - count_current(true); }

// The "pack" policy: busy-but-not-full first, then idle; most recently used first. Returns
// 0 when no ready instance of the current version has a free slot.
uint64_t Pool::pick() {
  uint64_t best = 0;
  const Member* b = nullptr;
  for (const auto& [token, m] : members_) {
    if (!usable(m) || m.in_flight >= m.concurrency) {
      continue;
    }
    bool better = b == nullptr || (m.in_flight > 0) > (b->in_flight > 0) ||
                  ((m.in_flight > 0) == (b->in_flight > 0) && m.last_used > b->last_used);
    if (better) {
      best = token;
      b = &m;
    }
  }
  return best;
}

void Pool::dispatch(uint64_t token, Member& m, Request req, bool cold, TimePoint now,
                    Actions& out, bool pipelined) {
  ++m.in_flight;
  m.last_used = now;
  out.dispatches.push_back(
      {token, m.slot, std::move(req), m.version, m.memory_mb, cold, now, pipelined});
}

// Queued requests go, in order, to ready instances with a free slot.
void Pool::dispatch_queue(TimePoint now, Actions& out) {
  while (!queue_.empty()) {
    uint64_t token = pick();
    if (token == 0) {
      return;
    }
    Request req = std::move(queue_.front());
    queue_.pop_front();
    bool cold = req.waited_for_start;
    dispatch(token, members_.at(token), std::move(req), cold, now, out);
  }
}

// When every instance is busy, none is starting (scale_out() started none: max_instances
// or devices) and requests still wait, each instance that can takes one ahead, to start it
// the moment its running one returns. A request that an instance is starting for waits for
// that instance instead, rather than behind a running request of unknown length.
void Pool::send_ahead(TimePoint now, Actions& out) {
  if (count_current(true) > 0) {
    return;
  }
  while (!queue_.empty()) {
    uint64_t token = pick_busy_with_room();
    if (token == 0) {
      return;
    }
    Request req = std::move(queue_.front());
    queue_.pop_front();
    bool cold = req.waited_for_start;
    dispatch(token, members_.at(token), std::move(req), cold, now, out, /*pipelined=*/true);
  }
}

// The head of the queue that the instances on their way will take waits for a start: those
// requests are cold starts even if a busy instance frees up and serves one of them first
// (the start they waited for then serves a later request, or nobody).
void Pool::mark_waiting_for_starts() {
  int64_t conc = std::max(1, config_.launch.concurrency);
  int64_t capacity = static_cast<int64_t>(count_current(true)) * conc;
  for (size_t i = 0; i < queue_.size() && static_cast<int64_t>(i) < capacity; ++i) {
    queue_[i].waited_for_start = true;
  }
}

// A ready instance whose slots are all taken but which takes invocations ahead; the least
// loaded first.
uint64_t Pool::pick_busy_with_room() {
  uint64_t best = 0;
  int best_in_flight = 0;
  for (const auto& [token, m] : members_) {
    if (!usable(m) || m.in_flight >= m.concurrency + m.pipeline) continue;
    if (best == 0 || m.in_flight < best_in_flight) {
      best = token;
      best_in_flight = m.in_flight;
    }
  }
  return best;
}

// Requests sent ahead wait as queued ones do: they count as demand for new instances.
int64_t Pool::sent_ahead() const {
  int64_t n = 0;
  for (const auto& [token, m] : members_) n += std::max(0, m.in_flight - m.concurrency);
  return n;
}

// A newly ready instance takes the head of the queue first: those requests waited for it,
// so they are its cold starts.
void Pool::dispatch_fresh(uint64_t token, TimePoint now, Actions& out) {
  Member& m = members_.at(token);
  while (!queue_.empty() && usable(m) && m.in_flight < m.concurrency) {
    Request req = std::move(queue_.front());
    queue_.pop_front();
    dispatch(token, m, std::move(req), true, now, out);
  }
}

void Pool::expire(TimePoint now, Actions& out) {
  std::deque<Request> kept;
  for (Request& r : queue_) {
    if (r.deadline >= now) {
      kept.push_back(std::move(r));
      continue;
    }
    executor::Reply reply;
    reply.outcome = executor::Outcome::kThrottled;
    reply.error_type = "Throttled";
    reply.error_message =
        fmt::format("function '{}': no instance was free within {} ms{}; retry later or raise "
                    "max_instances",
                    function(), millis(r.inv.timeout), gpu_wait_note());
    out.failures.push_back(
        {std::move(r), std::move(reply), config_.launch.version, config_.launch.memory_mb});
  }
  queue_ = std::move(kept);
}

// ---- scaling -------------------------------------------------------------------------

// Starts up to n instances; one that needs devices starts only while enough are free.
void Pool::launch(int n, Actions& out, TimePoint now) {
  int launched = 0;
  for (; launched < n; ++launched) {
    std::vector<std::string> devices;
    if (config_.gpu > 0) {
      auto taken = gpus_ ? gpus_->acquire(config_.gpu) : std::nullopt;
      if (!taken) break;
      devices = std::move(*taken);
    }
    uint64_t token = next_token_++;
    Member m;
    m.version = config_.launch.version;
    m.concurrency = std::max(1, config_.launch.concurrency);
    m.memory_mb = config_.launch.memory_mb;
    m.last_used = now;
    m.gpus = devices;
    members_.emplace(token, std::move(m));
    bool pinned = gpus_ != nullptr && gpus_->total() > 0;
    out.launches.push_back(
        {token, pinned ? with_devices(config_.launch, devices) : config_.launch});
  }
  if (launched > 0) out.events.push_back({"scale up", stats().total()});
}

// Why a request of a function that needs devices may have waited, for its 429.
std::string Pool::gpu_wait_note() const {
  if (config_.gpu == 0 || gpus_ == nullptr || gpus_->free_count() >= config_.gpu) return "";
  return fmt::format(" (each instance needs {} GPU{}; {} of {} free)", config_.gpu,
                     config_.gpu == 1 ? "" : "s", gpus_->free_count(), gpus_->total());
}

// Requests that wait beyond what the instances on their way will take.
int64_t Pool::unserved() const {
  int conc = std::max(1, config_.launch.concurrency);
  return static_cast<int64_t>(queue_.size()) + sent_ahead() -
         static_cast<int64_t>(count_current(true)) * conc;
}

// Reactive: enough starting capacity for the queue. Proactive: up to min_instances, and up
// to the autoscaler's desired count while no instance is starting.
void Pool::scale_out(TimePoint now, Actions& out) {
  int conc = std::max(1, config_.launch.concurrency);
  int total = count_current(false);
  int64_t shortage = unserved();
  int n = 0;
  while (shortage > 0 && total + n < config_.max_instances) {
    ++n;
    shortage -= conc;
  }
  if (now >= proactive_after_) {
    // min_instances always; the autoscaler's headroom only once the instances on the way
    // are ready, so that one cold request does not start two interpreters at once.
    int target = config_.min_instances;
    if (count_current(true) == 0) target = std::max(target, desired_);
    n = std::max(n, std::min(target, config_.max_instances) - total);
  }
  if (n > 0) {
    launch(n, out, now);
  }
}

void Pool::scale_down(TimePoint now, Actions& out) {
  std::vector<uint64_t> old;
  std::vector<std::pair<TimePoint, uint64_t>> idle;
  for (const auto& [token, m] : members_) {
    if (m.in_flight > 0 || m.dying) {
      continue;
    }
    if (!current(m)) {
      old.push_back(token);
    } else if (m.ready && m.slot && now - m.last_used > config_.idle_timeout) {
      idle.emplace_back(m.last_used, token);
    }
  }
  std::sort(idle.begin(), idle.end());  // longest idle first
  int total = count_current(false);
  int floor = std::max(config_.min_instances, desired_);
  size_t stopped = 0;
  for (; stopped < idle.size() && total > floor; ++stopped, --total) {
    drop(idle[stopped].second, true, out);
  }
  for (uint64_t token : old) {
    drop(token, true, out);
  }
  if (stopped + old.size() > 0) {
    out.events.push_back({"scale down", stats().total()});
  }
}

void Pool::drop(uint64_t token, bool stop, Actions& out) {
  auto it = members_.find(token);
  KUMO_CHECK(it != members_.end());
  if (!it->second.gpus.empty()) gpus_->release(it->second.gpus);
  if (it->second.slot) {
    if (stop) {
      out.stops.push_back(it->second.slot);
    }
    out.retired.push_back(std::move(it->second.slot));
  }
  members_.erase(it);
}

void Pool::fail_front(size_t n, const executor::Reply& reply, Actions& out) {
  for (size_t i = 0; i < n && !queue_.empty(); ++i) {
    out.failures.push_back(
        {std::move(queue_.front()), reply, config_.launch.version, config_.launch.memory_mb});
    queue_.pop_front();
  }
}

// The requests this instance would have served get its init error (all of the queue when
// no other instance is on the way), so a broken deploy answers at once instead of timing
// out; the rest wait for the other instances.
void Pool::init_failed(uint64_t token, const executor::Reply& reply, TimePoint now, Actions& out) {
  auto it = members_.find(token);
  if (it == members_.end()) {
    return;
  }
  int conc = it->second.concurrency;
  bool was_current = current(it->second);
  drop(token, true, out);
  out.events.push_back({"init failed", stats().total()});
  if (!was_current) {
    return;
  }
  proactive_after_ = now + kProactiveRetryDelay;
  bool others = count_current(false) > 0;
  fail_front(others ? static_cast<size_t>(conc) : queue_.size(), reply, out);
}

void Pool::observe(TimePoint now) {
  int in_flight = 0;
  for (const auto& e : members_) {
    in_flight += e.second.in_flight;
  }
  autoscaler_.observe(now, in_flight + static_cast<double>(queue_.size()));
}

Actions Pool::settle(TimePoint now, Actions out) {
  expire(now, out);
  dispatch_queue(now, out);
  scale_out(now, out);
  send_ahead(now, out);
  mark_waiting_for_starts();
  scale_down(now, out);
  observe(now);
  return out;
}

}  // namespace kumo::scheduler
