#include "cli/since.h"

#include <gtest/gtest.h>

namespace kumo::cli {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kNow = 1'800'000'000 * kSecond;  // 2027-01-15 08:00:00 UTC

TEST(ParseSince, ReadsDurationsAgo) {
  EXPECT_EQ(parse_since("90s", kNow).value(), kNow - 90 * kSecond);
  EXPECT_EQ(parse_since("30m", kNow).value(), kNow - 1800 * kSecond);
  EXPECT_EQ(parse_since("1h", kNow).value(), kNow - 3600 * kSecond);
  EXPECT_EQ(parse_since("1.5h", kNow).value(), kNow - 5400 * kSecond);
  EXPECT_EQ(parse_since("7d", kNow).value(), kNow - 7 * 86'400 * kSecond);
  EXPECT_EQ(parse_since("2w", kNow).value(), kNow - 14 * 86'400 * kSecond);
}

TEST(ParseSince, ReadsADateAsUtcMidnight) {
  EXPECT_EQ(parse_since("2026-11-26", kNow).value(), 1'795'651'200 * kSecond);
}

TEST(ParseSince, ReadsDateTimesWithOrWithoutZone) {
  int64_t ten_am = (1'795'651'200 + 10 * 3600) * kSecond;
  EXPECT_EQ(parse_since("2026-11-26T10:00:00Z", kNow).value(), ten_am);
  EXPECT_EQ(parse_since("2026-11-26T10:00:00", kNow).value(), ten_am);
  EXPECT_EQ(parse_since("2026-11-26 10:00", kNow).value(), ten_am);
  EXPECT_EQ(parse_since("2026-11-26T12:00:00+02:00", kNow).value(), ten_am);
  EXPECT_EQ(parse_since("2026-11-26T05:30:00-0430", kNow).value(), ten_am);
}

TEST(ParseSince, RejectsJunkWithTheAcceptedForms) {
  for (const char* bad :
       {"", "yesterday", "5", "5x", "-1h", "h", "2026-13-01", "2026-02-30", "2026-11-26T25:00:00Z",
        "2026-11-26T10:00:00Q", "26-11-2026", "2026/11/26"}) {
    auto result = parse_since(bad, kNow);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(result.error().message.find("7d"), std::string::npos) << result.error().message;
  }
}

TEST(ParseSince, RejectsAFutureDate) {
  auto result = parse_since("2099-01-01", kNow);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find("future"), std::string::npos);
}

TEST(ParseDuration, ReadsDurationsAndRefusesDatesAndZero) {
  EXPECT_EQ(parse_duration("30d", "--expires").value(), 30LL * 86'400 * 1'000'000);
  EXPECT_EQ(parse_duration("12h", "--expires").value(), 12LL * 3600 * 1'000'000);
  for (const char* bad : {"2026-11-26", "0d", "soon", ""}) {
    auto result = parse_duration(bad, "--expires");
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_TRUE(result.error().message.starts_with("--expires")) << result.error().message;
  }
}

}  // namespace
}  // namespace kumo::cli
