#include "cli/output.h"

#include <gtest/gtest.h>

namespace kumo::cli {
namespace {

constexpr int64_t kSecond = 1'000'000;

TEST(Table, PadsColumnsToTheWidestCellWithTwoSpaces) {
  Table table({"NAME", "VERSION"}, {Align::kLeft, Align::kRight});
  table.add_row({"hello", "3"});
  table.add_row({"resize-images", "12"});
  EXPECT_EQ(table.render(),
            "NAME           VERSION\n"
            "hello                3\n"
            "resize-images       12\n");
}

TEST(Table, LeavesNoTrailingSpacesAfterALeftAlignedLastColumn) {
  Table table({"A", "DEPLOYED"});
  table.add_row({"long-name", "5m ago"});
  std::string out = table.render();
  EXPECT_EQ(out, "A          DEPLOYED\nlong-name  5m ago\n");
}

TEST(Table, MeasuresMultiByteCharactersAsOneColumn) {
  Table table({"P50", "X"});
  table.add_row({"850 µs", "a"});
  table.add_row({"12 ms", "b"});
  EXPECT_EQ(table.render(),
            "P50     X\n"
            "850 µs  a\n"
            "12 ms   b\n");
}

TEST(Table, FillsMissingCellsWithBlanks) {
  Table table({"A", "B", "C"});
  table.add_row({"x"});
  EXPECT_EQ(table.render(), "A  B  C\nx\n");
}

TEST(Table, BoldsTheHeaderOnlyWhenColoursAreOn) {
  Table table({"NAME"});
  table.add_row({"hello"});
  EXPECT_EQ(table.render(Style{true}), "\033[1mNAME\033[0m\nhello\n");
  EXPECT_EQ(table.render(Style{false}), "NAME\nhello\n");
}

TEST(Style, LeavesTextPlainWhenDisabled) {
  Style plain;
  EXPECT_EQ(plain.red("error:"), "error:");
  EXPECT_EQ(Style{true}.red("error:"), "\033[31merror:\033[0m");
}

TEST(FormatBytes, UsesDecimalUnitsWithOneDecimal) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(12'400), "12.4 kB");
  EXPECT_EQ(format_bytes(3'210'000), "3.2 MB");
  EXPECT_EQ(format_bytes(999'960), "1.0 MB");  // never "1000.0 kB"
  EXPECT_EQ(format_bytes(1'100'000'000), "1.1 GB");
}

TEST(FormatMemory, ShowsWholeGigabytesAsGb) {
  EXPECT_EQ(format_memory_mb(128), "128 MB");
  EXPECT_EQ(format_memory_mb(1536), "1536 MB");
  EXPECT_EQ(format_memory_mb(10240), "10 GB");
}

TEST(FormatMs, PicksPrecisionByMagnitude) {
  EXPECT_EQ(format_ms(0), "0 ms");
  EXPECT_EQ(format_ms(0.42), "0.42 ms");
  EXPECT_EQ(format_ms(3.25), "3.2 ms");
  EXPECT_EQ(format_ms(12.4), "12 ms");
  EXPECT_EQ(format_ms(1500), "1.50 s");
  EXPECT_EQ(format_ms(125'000), "2m 5s");
  EXPECT_EQ(format_ms(3'900'000), "1h 5m");
}

TEST(FormatUsd, KeepsThreeSignificantDigitsBelowADollar) {
  EXPECT_EQ(format_usd(0), "$0");
  EXPECT_EQ(format_usd(0.000123), "$0.000123");
  EXPECT_EQ(format_usd(0.00012), "$0.00012");
  EXPECT_EQ(format_usd(0.0456789), "$0.0457");
  EXPECT_EQ(format_usd(0.2), "$0.2");
  EXPECT_EQ(format_usd(12.345), "$12.35");
}

TEST(FormatDecimal, TrimsTrailingZeros) {
  EXPECT_EQ(format_decimal(0), "0");
  EXPECT_EQ(format_decimal(12.5), "12.5");
  EXPECT_EQ(format_decimal(1.0), "1");
  EXPECT_EQ(format_decimal(0.0031), "0.0031");
  EXPECT_EQ(format_decimal(1234.56), "1234.6");
}

TEST(FormatRelative, RoundsDownToTheLargestUnit) {
  int64_t now = 1'800'000'000 * kSecond;
  EXPECT_EQ(format_relative(now, now), "just now");
  EXPECT_EQ(format_relative(now + 5 * kSecond, now), "just now");  // clock skew
  EXPECT_EQ(format_relative(now - 45 * kSecond, now), "45s ago");
  EXPECT_EQ(format_relative(now - 5 * 60 * kSecond - 59 * kSecond, now), "5m ago");
  EXPECT_EQ(format_relative(now - 3 * 3600 * kSecond, now), "3h ago");
  EXPECT_EQ(format_relative(now - 2 * 86'400 * kSecond, now), "2d ago");
}

TEST(FormatRelative, ShowsTheDateBeyondThirtyDays) {
  int64_t then = 1'764'151'200 * kSecond;  // 2025-11-26 10:00:00 UTC
  EXPECT_EQ(format_relative(then, then + 40 * 86'400 * kSecond), "2025-11-26");
}

TEST(FormatUtc, WritesDateAndTimeInUtc) {
  EXPECT_EQ(format_utc(1'764'151'200 * kSecond), "2025-11-26 10:00:00 UTC");
}

}  // namespace
}  // namespace kumo::cli
