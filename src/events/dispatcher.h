// Dispatcher: the events part's decisions over time, as one synchronous step(now):
//   1. writes back the attempts that ended since the last step (decide(), outcome.h): success,
//      retry with backoff, retry of failed batch items, dead letter and on_failure;
//   2. turns pending topic messages into batch invocations: full batches at once, a short one
//      once its oldest message has waited the trigger's batch window;
//   3. fires the schedule ticks due by `now`, each tick once (recorded with its invocation);
//   4. claims each function's due invocations up to its capacity and hands them to the
//      scheduler.
// step() returns when the next step is due (a retry's time, a batch window's end, a schedule's
// next tick), so the caller can wait until then or until `wake` is called. The dispatcher has
// no thread and reads no clock: its time is what step() is given, so a test drives it with a
// fake clock and steps it.
//
// Ownership: borrows the database, the scheduler and the subscriptions, which must outlive it
// and every reply handler it gave the scheduler.
// Threading: recover() and step() from one thread at a time (the events thread, or a test).
// The scheduler's reply handlers end attempts from any thread: they queue the end and call
// `wake`, and the next step writes it back.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "events/events_db.h"
#include "events/outcome.h"
#include "events/subscriptions.h"
#include "scheduler/scheduler.h"

namespace kumo::events {

class Dispatcher {
 public:
  // The longest step() lets pass before the next one even with nothing due.
  static constexpr int64_t kMaxIdleUs = 1'000'000;

  // `retention`: finished invocations and messages are deleted after it. `wake` is called
  // when an attempt ends (from the scheduler's thread); may be empty.
  Dispatcher(EventsDb& db, scheduler::Scheduler& scheduler, const Subscriptions& subscriptions,
             std::chrono::milliseconds retention, std::function<void()> wake);

  // Requeues invocations that were running when the server stopped. Before the first step.
  Result<int> recover();
  // One pass at `now_us` (Unix µs). Returns when the next pass is due: `now_us` if there is
  // more to do at once, never later than now_us + kMaxIdleUs.
  int64_t step(int64_t now_us);
  // Whether attempts ended since the last step.
  bool has_ended() const;

 private:
  using Functions = std::map<std::string, FunctionInfo>;
  void write_back(const Functions& fns, int64_t now);
  int64_t form_batches(const Functions& fns, int64_t now);
  int64_t form_batch(const std::string& function, const FunctionInfo& info, const QueueTrigger& q,
                     int64_t now);
  int64_t fire_schedules(const Functions& fns, int64_t now);
  int64_t fire_schedule(const std::string& function, const FunctionInfo& info,
                        const ScheduleTrigger& s, int64_t now);
  int64_t dispatch(const Functions& fns, int64_t now);
  void send(const InvocationRow& row, std::chrono::milliseconds timeout);
  void collect(int64_t now);

  EventsDb& db_;
  scheduler::Scheduler& scheduler_;
  const Subscriptions& subscriptions_;
  const std::chrono::milliseconds retention_;
  const std::function<void()> wake_;

  mutable std::mutex mu_;
  std::vector<Completion> ended_;  // Guarded by mu_.

  // The stepping thread's only.
  std::map<std::string, int> in_flight_;            // function -> attempts at the scheduler
  std::map<std::string, int64_t> schedule_cursor_;  // function + '\n' + expression -> last tick
  int64_t last_collect_us_ = 0;
};

}  // namespace kumo::events
