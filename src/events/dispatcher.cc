#include "events/dispatcher.h"

#include <algorithm>
#include <memory>

#include <spdlog/spdlog.h>

#include "events/records.h"

namespace kumo::events {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kMaxBatchesPerPass = 256;
constexpr int kMaxCatchUpTicks = 100;
constexpr int64_t kCollectEveryUs = 600'000'000;

int64_t us(milliseconds d) { return d.count() * 1000; }

}  // namespace

Dispatcher::Dispatcher(EventsDb& db, scheduler::Scheduler& scheduler,
                       const Subscriptions& subscriptions, milliseconds retention,
                       std::function<void()> wake)
    : db_(db),
      scheduler_(scheduler),
      subscriptions_(subscriptions),
      retention_(retention),
      wake_(std::move(wake)) {}

Result<int> Dispatcher::recover() { return db_.recover(); }

bool Dispatcher::has_ended() const {
  std::lock_guard lock(mu_);
  return !ended_.empty();
}

int64_t Dispatcher::step(int64_t now) {
  Functions fns = subscriptions_.snapshot();
  write_back(fns, now);
  // Write-backs first: the retries, dead letters and on_failure calls they queue are
  // batched and claimed in this same step when due.
  int64_t due = now + kMaxIdleUs;
  due = std::min(due, form_batches(fns, now));
  due = std::min(due, fire_schedules(fns, now));
  due = std::min(due, dispatch(fns, now));
  collect(now);
  if (has_ended()) due = now;  // the scheduler answered (or refused) while we sent
  return std::max(due, now);
}

void Dispatcher::write_back(const Functions& fns, int64_t now) {
  std::vector<Completion> ended;
  {
    std::lock_guard lock(mu_);
    ended.swap(ended_);
  }
  if (ended.empty()) return;
  BatchLookup batch = [this](const std::string& seqs) {
    auto list = json::parse(seqs, nullptr, false);
    if (!list.is_array()) return std::vector<StoredMessage>();
    auto msgs = db_.messages_by_seq(list.get<std::vector<int64_t>>());
    if (!msgs) spdlog::error("{}", msgs.error().message);
    return msgs ? std::move(*msgs) : std::vector<StoredMessage>();
  };
  std::vector<AttemptEnd> ends;
  EventsDb::FollowUps follow;
  for (auto& c : ended) {
    in_flight_[c.row.function] -= 1;
    auto it = fns.find(c.row.function);
    Decision d = decide(std::move(c), it == fns.end() ? nullptr : &it->second, now, batch);
    ends.push_back(std::move(d.end));
    for (auto& row : d.follow.invocations) follow.invocations.push_back(std::move(row));
    for (auto& m : d.follow.messages) follow.messages.push_back(std::move(m));
  }
  // Dead letters go to whoever subscribes to their topic now.
  for (auto& m : follow.messages) m.subscribers = subscriptions_.subscribers(m.topic);
  for (auto& row : follow.invocations) {
    row.max_attempts = subscriptions_.max_attempts(row.function);
  }
  if (auto r = db_.finish(ends, follow, now); !r) {
    spdlog::error("recording async results: {}", r.error().message);
  }
}

int64_t Dispatcher::form_batches(const Functions& fns, int64_t now) {
  int64_t due = now + kMaxIdleUs;
  for (const auto& [name, info] : fns) {
    for (const auto& q : info.triggers.queues) due = std::min(due, form_batch(name, info, q, now));
  }
  return due;
}

// Returns when this queue's next batch is due.
int64_t Dispatcher::form_batch(const std::string& function, const FunctionInfo& info,
                               const QueueTrigger& q, int64_t now) {
  auto p = db_.pending(function, q.topic);
  if (!p) {
    spdlog::error("{}", p.error().message);
    return now + kMaxIdleUs;
  }
  if (p->count == 0) return now + kMaxIdleUs;
  const int64_t window_end = p->oldest_us + us(q.batch_window);
  // Full batches now; a short one only once its oldest message waited the window.
  int batches = std::min(kMaxBatchesPerPass, p->count / q.batch_size);
  if (batches == 0 && now >= window_end) batches = 1;
  if (batches == 0) return window_end;
  auto make = [&](const std::vector<StoredMessage>& batch) {
    InvocationRow row = new_invocation(function, queue_event(batch, 1).dump(), "queue:" + q.topic,
                                       info.max_attempts(), now);
    json seqs = json::array();
    for (const auto& m : batch) seqs.push_back(m.seq);
    row.messages = seqs.dump();
    return row;
  };
  auto taken = db_.take_batches(function, q.topic, q.batch_size, batches, make);
  if (!taken) {
    spdlog::error("{}", taken.error().message);
    return now + kMaxIdleUs;
  }
  if (*taken == p->count) return now + kMaxIdleUs;
  // More is waiting: at once if this pass hit its limit, else when the window of what is
  // left ends (no earlier than the oldest's; the next step reads the exact time).
  return batches == kMaxBatchesPerPass ? now : window_end;
}

int64_t Dispatcher::fire_schedules(const Functions& fns, int64_t now) {
  int64_t due = now + kMaxIdleUs;
  for (const auto& [name, info] : fns) {
    for (const auto& s : info.triggers.schedules) {
      due = std::min(due, fire_schedule(name, info, s, now));
    }
  }
  return due;
}

// Fires the ticks of one schedule due by `now`; returns when its next tick is.
int64_t Dispatcher::fire_schedule(const std::string& function, const FunctionInfo& info,
                                  const ScheduleTrigger& s, int64_t now) {
  using namespace std::chrono;
  const std::string& text = s.schedule.text();
  std::string key = function + "\n" + text;
  auto cursor = schedule_cursor_.find(key);
  if (cursor == schedule_cursor_.end()) {
    auto last = db_.schedule_last(function, text);
    if (!last) {
      spdlog::error("{}", last.error().message);
      return now + kMaxIdleUs;
    }
    int64_t start = !*last ? now : s.catch_up ? **last : std::max(**last, now);
    if (!*last) (void)db_.set_schedule_last(function, text, now);
    cursor = schedule_cursor_.emplace(key, start).first;
  }
  for (int i = 0; i < kMaxCatchUpTicks; ++i) {
    SysTime after{microseconds(cursor->second)};
    int64_t tick =
        duration_cast<microseconds>(s.schedule.next_after(after).time_since_epoch()).count();
    if (tick > now) return tick;
    std::string payload = s.input ? *s.input : schedule_event(function, text, tick).dump();
    InvocationRow row =
        new_invocation(function, payload, "schedule:" + text, info.max_attempts(), now);
    if (auto r = db_.fire_schedule(function, text, tick, row); !r) {
      spdlog::error("{}", r.error().message);
      return now + kMaxIdleUs;
    }
    cursor->second = tick;
  }
  return now;  // more ticks to catch up on
}

// Claims and sends what is due; returns when the next invocation of a function with room
// is due (one at capacity waits for an attempt to end, which wakes the caller).
int64_t Dispatcher::dispatch(const Functions& fns, int64_t now) {
  int64_t due = now + kMaxIdleUs;
  for (const auto& [name, info] : fns) {
    int free = info.capacity - in_flight_[name];
    if (free <= 0) continue;
    auto rows = db_.claim(name, now, free);
    if (!rows) {
      spdlog::error("{}", rows.error().message);
      continue;
    }
    for (const auto& row : *rows) {
      in_flight_[name] += 1;
      send(row, info.timeout);
    }
    if (static_cast<int>(rows->size()) == free) continue;
    auto next = db_.next_run(name);
    if (!next) spdlog::error("{}", next.error().message);
    if (next && *next) due = std::min(due, **next);
  }
  return due;
}

void Dispatcher::send(const InvocationRow& row, milliseconds timeout) {
  executor::Invocation inv;
  inv.request_id = row.request_id;
  inv.payload = row.payload;
  inv.timeout = timeout;
  inv.attempt = row.attempts;
  auto streamed = std::make_shared<std::string>();
  executor::ReplyHandler handler;
  handler.on_chunk = [streamed](std::string_view chunk) {
    if (streamed->size() < kMaxResultBytes + 1) streamed->append(chunk);
  };
  handler.on_done = [this, row, streamed](executor::Reply reply) {
    {
      std::lock_guard lock(mu_);
      ended_.push_back({row, std::move(reply), std::move(*streamed)});
    }
    if (wake_) wake_();
  };
  auto started = scheduler_.invoke(row.function, std::move(inv), handler);
  if (!started) {
    executor::Reply reply;
    bool throttled = started.error().code == ErrorCode::kThrottled;
    reply.outcome = throttled ? executor::Outcome::kThrottled : executor::Outcome::kCrash;
    reply.error_type = throttled ? "Throttled" : "FunctionNotFound";
    reply.error_message = started.error().message;
    handler.on_done(std::move(reply));
  }
}

void Dispatcher::collect(int64_t now) {
  if (now - last_collect_us_ <= kCollectEveryUs) return;
  last_collect_us_ = now;
  if (auto r = db_.collect(now - us(retention_)); !r) spdlog::error("{}", r.error().message);
}

}  // namespace kumo::events
