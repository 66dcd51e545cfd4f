// Autoscaler: the Knative Pod Autoscaler (KPA) rule for one function's pool.
//
// The pool reports its observed concurrency (requests in flight + requests queued) every
// time it changes; the autoscaler integrates it over time, so the averages are exact
// whatever the tick interval, and keeps the peak of each window. desired() turns them, over a
// stable window (60 s) and a panic window (6 s), into a number of instances:
//   desired = min(ceil(average concurrency / (per-instance concurrency * target utilization)),
//                 ceil(peak concurrency / per-instance concurrency))
// The target's headroom never asks for more instances than the window's peak ever used at
// once, so one request at a time wants one instance (docs/autoscaling.md says why).
// Panic mode starts when the panic-window desired reaches panic_threshold times the ready
// instances; while in panic the result never decreases, and panic ends only after a full
// stable window without the panic condition. The result is clamped to [min, max].
//
// Plain value type; not thread-safe (the pool guards it).
#pragma once

#include <chrono>
#include <deque>
#include <optional>

#include "common/clock.h"

namespace kumo::scheduler {

// The KPA knobs, with Knative's defaults. Tests shrink the windows.
struct KpaConfig {
  std::chrono::milliseconds stable_window{60'000};
  double panic_window_percentage = 10.0;  // panic window = this % of the stable window
  double target_utilization = 0.70;       // Knative's container-concurrency-target-percentage
  double panic_threshold = 2.0;           // Knative's panic-threshold-percentage (200%)

  Duration panic_window() const;
};

// What desired() needs to know about the pool at this moment.
struct ScaleInput {
  int ready_instances = 0;  // ready instances of the current version
  int concurrency = 1;      // requests one instance serves at once
  int min_instances = 0;
  int max_instances = 10;
};

class Autoscaler {
 public:
  // `start` is when observation began (the pool's creation); concurrency is 0 until told.
  Autoscaler(KpaConfig config, TimePoint start);

  // The observed concurrency is `value` from `now` on. `now` never goes backwards.
  void observe(TimePoint now, double value);

  // The desired instance count as of `now`; call it on every tick. It records a checkpoint
  // of the integral, so a window average costs one look-up however many changes it spans.
  int desired(TimePoint now, const ScaleInput& in);

  // Average observed concurrency over the last `window` (over the time observed so far, when
  // that is shorter).
  double average(TimePoint now, Duration window) const;
  // Highest concurrency observed during the last `window` (at most a stable window), the
  // current value included.
  double peak(TimePoint now, Duration window) const;

  bool in_panic() const { return panic_seen_.has_value(); }

 private:
  struct Checkpoint {
    TimePoint at;
    double integral;  // concurrency-seconds observed up to `at`
  };
  struct Held {
    TimePoint until;  // a value observed up to here (then replaced)
    double value;
  };
  // Kept change points and tick times, oldest first; the first one is at or before the
  // stable window's start.

  double integral_at(TimePoint t) const;
  double integral_now(TimePoint now) const;
  void record_checkpoint(TimePoint now);
  void prune(TimePoint now);
  void record_held(TimePoint until);
  int wanted(double average, double peak, int concurrency) const;

  KpaConfig config_;
  TimePoint start_;
  TimePoint last_change_;
  double value_ = 0;     // concurrency since last_change_
  double integral_ = 0;  // concurrency-seconds up to last_change_
  std::deque<Checkpoint> checkpoints_;
  // Past values that may still be a window's peak: `until` rising, `value` strictly falling
  // (a value followed by a higher one can never be the peak again), so it holds at most one
  // entry per distinct value and the front one still in a window is that window's peak.
  std::deque<Held> held_;
  // Set while in panic mode: the last time the panic condition held (Knative's panicTime).
  std::optional<TimePoint> panic_seen_;
  int max_panic_desired_ = 0;
};

}  // namespace kumo::scheduler
