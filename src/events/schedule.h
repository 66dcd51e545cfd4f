// Schedule: when a `schedule` trigger fires. Parses five-field cron expressions (minute hour
// day-of-month month day-of-week, with *, lists, ranges, steps and JAN..DEC / SUN..SAT
// names), the macros @yearly @annually @monthly @weekly @daily @midnight @hourly, and
// `@every <duration>` (at least 1s; ticks aligned to the Unix epoch, so they land on the
// same instants across restarts). Times are UTC. A value type; thread-safe.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::events {

using SysTime = std::chrono::system_clock::time_point;

class Schedule {
 public:
  // kInvalidArgument naming the field at fault: "schedule '61 * * * *': minute 61 is not
  // in 0..59". An expression that can never fire (`0 0 30 2 *`) is refused too.
  static Result<Schedule> parse(std::string_view text);

  // The first firing strictly after `after`.
  SysTime next_after(SysTime after) const;

  const std::string& text() const { return text_; }

 private:
  Schedule() = default;
  std::optional<SysTime> next_cron(SysTime after) const;

  std::string text_;
  std::chrono::seconds every_{0};  // > 0 for @every
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_; // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace kumo::events
