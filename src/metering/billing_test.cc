#include "metering/billing.h"

#include <gtest/gtest.h>

#include "metering/outcome.h"

namespace kumo::metering {
namespace {

TEST(Billing, RoundsDurationUpToWholeMilliseconds) {
  EXPECT_EQ(billed_ms(1), 1);
  EXPECT_EQ(billed_ms(999), 1);
  EXPECT_EQ(billed_ms(1000), 1);
  EXPECT_EQ(billed_ms(1001), 2);
  EXPECT_EQ(billed_ms(2000), 2);
  EXPECT_EQ(billed_ms(30'000'000), 30'000);
  EXPECT_EQ(billed_ms(30'000'001), 30'001);
}

TEST(Billing, ChargesAtLeastOneMillisecond) {
  EXPECT_EQ(billed_ms(0), 1);
  EXPECT_EQ(billed_ms(-5), 1);
}

TEST(Billing, GbSecondsScaleWithMemory) {
  EXPECT_DOUBLE_EQ(gb_seconds(1000, 1024), 1.0);
  EXPECT_DOUBLE_EQ(gb_seconds(1000, 128), 0.125);
  EXPECT_DOUBLE_EQ(gb_seconds(1, 128), 0.000125);
  EXPECT_DOUBLE_EQ(gb_seconds(2000, 512), 1.0);
  EXPECT_DOUBLE_EQ(gb_seconds(1000, 10240), 10.0);
  EXPECT_DOUBLE_EQ(gb_seconds(100, 10240), 1.0);
}

TEST(Billing, MillionOneSecondGigabyteRequestsCostLambdaListPrice) {
  Prices prices;
  double gb_s = 1'000'000 * gb_seconds(billed_ms(1'000'000), 1024);
  EXPECT_DOUBLE_EQ(gb_s, 1'000'000.0);
  double usd = cost(gb_s, 1'000'000, prices);
  EXPECT_NEAR(usd, 16.6667 + 0.20, 1e-6);
  EXPECT_NEAR(cost(0, 1'000'000, prices), 0.20, 1e-12);
  EXPECT_EQ(cost(0, 0, prices), 0.0);
}

TEST(Billing, CustomPricesApply) {
  auto prices = make_prices(0.00001, 0.5);
  ASSERT_TRUE(prices);
  EXPECT_NEAR(cost(100'000, 2'000'000, *prices), 1.0 + 1.0, 1e-9);
}

TEST(Billing, RejectsNegativePricesNamingTheFlag) {
  auto bad = make_prices(-1, 0.2);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("--price-gb-s"), std::string::npos);
  auto bad2 = make_prices(0.1, std::numeric_limits<double>::quiet_NaN());
  ASSERT_FALSE(bad2);
  EXPECT_NE(bad2.error().message.find("--price-per-million"), std::string::npos);
}

TEST(Outcome, NamesRoundTrip) {
  using executor::Outcome;
  for (int i = 0; i < kOutcomeCount; ++i) {
    Outcome o = outcome_at(i);
    EXPECT_EQ(outcome_index(o), i);
    EXPECT_EQ(parse_outcome(outcome_text(o)), o);
  }
  EXPECT_EQ(outcome_text(Outcome::kInitError), "init_error");
  EXPECT_EQ(outcome_text(Outcome::kThrottled), "throttled");
  EXPECT_EQ(parse_outcome("nope"), std::nullopt);
  EXPECT_FALSE(is_billed(Outcome::kThrottled));
  EXPECT_TRUE(is_billed(Outcome::kTimeout));
}

}  // namespace
}  // namespace kumo::metering
