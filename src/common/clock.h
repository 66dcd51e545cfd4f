// Clock: the source of time, injected so scheduling logic can be tested with a fake clock.
//
// SteadyClock is the real one (thread-safe, stateless). FakeClock is for tests: time only
// moves when the test calls advance(); it is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

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

// WallClock: wall time (Unix epoch µs), injected where decisions are about durable records or
// calendar time (schedules in UTC), so they too can be tested with a fake. Thread-safe.
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual int64_t now_us() const = 0;
};

class SystemWallClock final : public WallClock {
 public:
  int64_t now_us() const override { return wall_micros(); }
};

// Starts at `start_us`; moves only when the test calls advance().
class FakeWallClock final : public WallClock {
 public:
  explicit FakeWallClock(int64_t start_us) : us_(start_us) {}
  int64_t now_us() const override { return us_.load(); }
  void advance(std::chrono::microseconds d) { us_ += d.count(); }

 private:
  std::atomic<int64_t> us_;
};

}  // namespace kumo
