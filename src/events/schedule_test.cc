#include "events/schedule.h"

#include <gtest/gtest.h>

namespace kumo::events {
namespace {

using namespace std::chrono;

SysTime at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days(year(y) / mo / d) + hours(h) + minutes(mi) + seconds(s);
}

SysTime next(std::string_view expr, SysTime after) {
  auto s = Schedule::parse(expr);
  EXPECT_TRUE(s.has_value()) << expr << ": " << (s ? "" : s.error().message);
  return s ? s->next_after(after) : SysTime{};
}

TEST(Schedule, EveryFiveMinutesFiresOnTheNextMultiple) {
  EXPECT_EQ(next("*/5 * * * *", at(2026, 11, 26, 10, 3, 20)), at(2026, 11, 26, 10, 5));
  EXPECT_EQ(next("*/5 * * * *", at(2026, 11, 26, 10, 5)), at(2026, 11, 26, 10, 10));
}

TEST(Schedule, FiresStrictlyAfterTheGivenTime) {
  EXPECT_EQ(next("30 9 * * *", at(2026, 11, 26, 9, 30)), at(2026, 11, 27, 9, 30));
}

TEST(Schedule, ListsRangesStepsAndNames) {
  // 9:00 and 17:00 on weekdays.
  EXPECT_EQ(next("0 9,17 * * MON-FRI", at(2026, 11, 27, 18)), at(2026, 11, 30, 9));  // Fri→Mon
  EXPECT_EQ(next("0 0 1 JAN,jul *", at(2026, 2, 1)), at(2026, 7, 1));
  EXPECT_EQ(next("15-45/15 * * * *", at(2026, 1, 1, 0, 46)), at(2026, 1, 1, 1, 15));
  EXPECT_EQ(next("0 12 * * 7", at(2026, 11, 26)), at(2026, 11, 29, 12));  // 7 is Sunday
}

TEST(Schedule, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 1st of the month or any Monday, as Vixie cron does.
  EXPECT_EQ(next("0 0 1 * MON", at(2026, 11, 26)), at(2026, 11, 30));
  EXPECT_EQ(next("0 0 1 * MON", at(2026, 11, 30)), at(2026, 12, 1));
}

TEST(Schedule, LeapDayAndMacros) {
  EXPECT_EQ(next("0 0 29 2 *", at(2026, 3, 1)), at(2028, 2, 29));
  EXPECT_EQ(next("@hourly", at(2026, 11, 26, 10, 0, 1)), at(2026, 11, 26, 11));
  EXPECT_EQ(next("@daily", at(2026, 12, 31, 23, 59)), at(2027, 1, 1));
  EXPECT_EQ(next("@weekly", at(2026, 11, 26)), at(2026, 11, 29));
  EXPECT_EQ(next("@yearly", at(2026, 11, 26)), at(2027, 1, 1));
}

TEST(Schedule, EveryIsAlignedToTheEpochSoRestartsSeeTheSameTicks) {
  EXPECT_EQ(next("@every 30s", at(2026, 11, 26, 10, 0, 10)), at(2026, 11, 26, 10, 0, 30));
  EXPECT_EQ(next("@every 30s", at(2026, 11, 26, 10, 0, 30)), at(2026, 11, 26, 10, 1, 0));
  EXPECT_EQ(next("@every 1h", at(2026, 11, 26, 10, 20)), at(2026, 11, 26, 11));
}

TEST(Schedule, BadExpressionsNameWhatIsWrong) {
  struct Case {
    const char* expr;
    const char* says;
  };
  for (const Case& c : {Case{"61 * * * *", "minute 61 is not in 0..59"},
                        Case{"* 24 * * *", "hour 24 is not in 0..23"},
                        Case{"* * 0 * *", "day of month 0 is not in 1..31"},
                        Case{"* * * FOO *", "month 'FOO' is not a value"},
                        Case{"*/0 * * * *", "step '0'"},
                        Case{"5-1 * * * *", "minute"},
                        Case{"* * * *", "expected five fields"},
                        Case{"1,,2 * * * *", "empty list item"},
                        Case{"0 0 30 2 *", "never fires"},
                        Case{"@every 0s", "@every needs"},
                        Case{"@every soon", "@every needs"},
                        Case{"@fortnightly", "expected five fields"}}) {
    auto s = Schedule::parse(c.expr);
    ASSERT_FALSE(s.has_value()) << c.expr;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find(c.says), std::string::npos)
        << c.expr << " -> " << s.error().message;
  }
}

}  // namespace
}  // namespace kumo::events
