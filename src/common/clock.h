// Clock: the source of time, injected so scheduling logic can be tested with a fake clock.
//
// SteadyClock is the real one (thread-safe, stateless). FakeClock is for tests: time only
// moves when the test calls advance(); it is thread-safe.
#pragma once

#include <atomic>
#include <chrono>

namespace kumo {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return TimePoint(Duration(ticks_.load())); }
  void advance(Duration d) { ticks_ += d.count(); }

 private:
  std::atomic<Duration::rep> ticks_{Duration(std::chrono::hours(1)).count()};
};

// Microseconds since the Unix epoch, for records that outlive the process.
int64_t wall_micros();

}  // namespace kumo
