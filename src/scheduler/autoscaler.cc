#include "scheduler/autoscaler.h"

#include <algorithm>
#include <cmath>

namespace kumo::scheduler {
namespace {

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// ceil() that forgives floating-point noise (an average of 1.4000000001 / 0.7 is 2, not 3),
// and caps the value so the int conversion is always defined.
int ceil_count(double x) {
  double c = std::ceil(x - 1e-9);
  return static_cast<int>(std::clamp(c, 0.0, 1e6));
}

}  // namespace

Duration KpaConfig::panic_window() const {
  auto ms = static_cast<double>(stable_window.count()) * panic_window_percentage / 100.0;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

Autoscaler::Autoscaler(KpaConfig config, TimePoint start)
    : config_(config), start_(start), last_change_(start) {
  checkpoints_.push_back({start, 0});
}

// Keeps the change points the averages need: every one that begins a long steady run or is
// far enough from the last kept one. Dropping the others bounds memory under heavy traffic
// and errs by at most a couple of granules (stable window / 600, 100 ms by default).
void Autoscaler::observe(TimePoint now, double value) {
  if (value == value_) {
    return;
  }
  if (now > last_change_) {
    Duration granule = config_.stable_window / 600;
    Checkpoint p{last_change_, integral_};
    bool long_run = now - p.at >= granule;
    bool spaced = p.at - checkpoints_.back().at >= granule;
    if (p.at > checkpoints_.back().at && (long_run || spaced)) {
      checkpoints_.push_back(p);
    }
    record_held(now);
    prune(now);
    integral_ += value_ * seconds(now - last_change_);
    last_change_ = now;
  }
  value_ = value;
}

double Autoscaler::integral_now(TimePoint now) const {
  if (now <= last_change_) {
    return integral_;
  }
  return integral_ + value_ * seconds(now - last_change_);
}

// The integral at an earlier time, interpolated between the nearest kept points.
double Autoscaler::integral_at(TimePoint t) const {
  if (t <= start_) {
    return 0;
  }
  if (t >= last_change_) {
    return integral_now(t);
  }
  TimePoint prev_at = start_;
  double prev_integral = 0;
  for (const Checkpoint& c : checkpoints_) {
    if (c.at >= t) {
      if (c.at == prev_at) {
        return c.integral;
      }
      double f = seconds(t - prev_at) / seconds(c.at - prev_at);
      return prev_integral + f * (c.integral - prev_integral);
    }
    prev_at = c.at;
    prev_integral = c.integral;
  }
  double f = seconds(t - prev_at) / seconds(last_change_ - prev_at);
  return prev_integral + f * (integral_ - prev_integral);
}

void Autoscaler::record_checkpoint(TimePoint now) {
  if (checkpoints_.empty() || now > checkpoints_.back().at) {
    checkpoints_.push_back({now, integral_now(now)});
  }
  prune(now);
}

// The value observed until now (value_) leaves the present; a value held for no time at
// all (two changes at one instant) was never concurrency anyone saw.
void Autoscaler::record_held(TimePoint until) {
  while (!held_.empty() && held_.back().value <= value_) {
    held_.pop_back();
  }
  held_.push_back({until, value_});
}

// Keeps one checkpoint at or before the stable window's start, to interpolate from, and the
// held values that ended inside the stable window.
void Autoscaler::prune(TimePoint now) {
  TimePoint horizon = now - config_.stable_window;
  while (checkpoints_.size() > 1 && checkpoints_[1].at <= horizon) {
    checkpoints_.pop_front();
  }
  while (!held_.empty() && held_.front().until <= horizon) {
    held_.pop_front();
  }
}

double Autoscaler::average(TimePoint now, Duration window) const {
  TimePoint from = std::max(start_, now - window);
  if (checkpoints_.front().at > from) {
    from = checkpoints_.front().at;
  }
  if (now <= from) {
    return value_;
  }
  return (integral_now(now) - integral_at(from)) / seconds(now - from);
}

double Autoscaler::peak(TimePoint now, Duration window) const {
  TimePoint from = now - window;
  for (const Held& h : held_) {
    if (h.until > from) {
      return std::max(h.value, value_);
    }
  }
  return value_;
}

// KPA's count with its headroom, but never more instances than the peak ever needed at once:
// with concurrency 1, one request in flight wants one instance, not ceil(1 / 0.7) = 2.
int Autoscaler::wanted(double average, double peak, int concurrency) const {
  double per_instance = std::max(1e-9, concurrency * config_.target_utilization);
  int with_headroom = ceil_count(average / per_instance);
  int at_peak = ceil_count(peak / std::max(1, concurrency));
  return std::min(with_headroom, at_peak);
}

int Autoscaler::desired(TimePoint now, const ScaleInput& in) {
  record_checkpoint(now);
  int stable =
      wanted(average(now, config_.stable_window), peak(now, config_.stable_window), in.concurrency);
  Duration panic_window = config_.panic_window();
  int panic = wanted(average(now, panic_window), peak(now, panic_window), in.concurrency);
  int ready = std::max(1, in.ready_instances);
  bool over = panic >= config_.panic_threshold * ready;
  if (over) {
    if (!panic_seen_) {
      max_panic_desired_ = 0;
    }
    panic_seen_ = now;
  } else if (panic_seen_ && now - *panic_seen_ >= config_.stable_window) {
    panic_seen_.reset();
    max_panic_desired_ = 0;
  }
  int d = stable;
  if (panic_seen_) {
    // In panic, scale to the short window's demand and never back down.
    d = std::max(panic, max_panic_desired_);
    max_panic_desired_ = d;
  }
  return std::clamp(d, in.min_instances, std::max(in.min_instances, in.max_instances));
}

}  // namespace kumo::scheduler
