#include "scheduler/autoscaler.h"

#include <gtest/gtest.h>

namespace kumo::scheduler {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class AutoscalerTest : public ::testing::Test {
 protected:
  // Holds `value` for `d`, ticking every `step`; returns the last desired count.
  int hold(double value, Duration d, Duration step = seconds(1)) {
    auto_.observe(now_, value);
    int desired = 0;
    for (Duration t{}; t < d; t += step) {
      now_ += step;
      desired = auto_.desired(now_, in_);
    }
    return desired;
  }

  TimePoint now_ = TimePoint(std::chrono::hours(1));
  Autoscaler auto_{KpaConfig{}, now_};
  ScaleInput in_{.ready_instances = 1, .concurrency = 1, .min_instances = 0, .max_instances = 100};
};

TEST_F(AutoscalerTest, DesiredIsAverageConcurrencyOverSeventyPercentTarget) {
  in_.ready_instances = 10;
  EXPECT_EQ(hold(7, seconds(120)), 10);  // ceil(7 / 0.7)
  in_.concurrency = 10;
  in_.ready_instances = 1;
  EXPECT_EQ(hold(7, seconds(120)), 1);  // 7 of 10 slots is exactly the target
}

TEST_F(AutoscalerTest, NoTrafficMeansZero) { EXPECT_EQ(hold(0, seconds(10)), 0); }

TEST_F(AutoscalerTest, ClampsToMinAndMax) {
  in_.min_instances = 2;
  in_.max_instances = 4;
  EXPECT_EQ(hold(0, seconds(120)), 2);
  in_.ready_instances = 4;
  EXPECT_EQ(hold(50, seconds(120)), 4);
}

TEST_F(AutoscalerTest, SameAnswerWhateverTheTickInterval) {
  Autoscaler coarse(KpaConfig{}, now_);
  TimePoint t = now_;
  in_.ready_instances = 10;  // calm: compare the stable rule, not panic's startup peaks
  // One request every other second, observed exactly; ticks every 100 ms vs every 5 s.
  int fine_desired = 0;
  int coarse_desired = 0;
  for (int s = 0; s < 90; ++s) {
    double v = s % 2 == 0 ? 3 : 0;
    auto_.observe(t, v);
    coarse.observe(t, v);
    for (int k = 0; k < 10; ++k) {
      t += milliseconds(100);
      fine_desired = auto_.desired(t, in_);
    }
    if ((s + 1) % 5 == 0) coarse_desired = coarse.desired(t, in_);
  }
  EXPECT_NEAR(auto_.average(t, seconds(60)), 1.5, 1e-6);
  EXPECT_NEAR(coarse.average(t, seconds(60)), 1.5, 1e-6);
  EXPECT_EQ(fine_desired, 3);  // ceil(1.5 / 0.7)
  EXPECT_EQ(coarse_desired, 3);
}

TEST_F(AutoscalerTest, PanicHoldsDesiredDuringSpikeAndDecaysAfterStableWindow) {
  in_.ready_instances = 2;
  EXPECT_EQ(hold(1, seconds(120)), 2);  // ceil(1 / 0.7), calm
  EXPECT_FALSE(auto_.in_panic());

  int spike = hold(10, seconds(6));  // the 6 s panic window sees 10: 15 instances wanted
  EXPECT_TRUE(auto_.in_panic());
  EXPECT_EQ(spike, 15);
  in_.ready_instances = 15;

  // The spike ends; the panic window forgets it in 6 s but panic never scales down.
  EXPECT_EQ(hold(1, seconds(30)), 15);
  EXPECT_TRUE(auto_.in_panic());

  // A full stable window after the panic condition last held, panic ends and the stable
  // average (which still remembers the spike) takes over, then decays to the calm value.
  int after = hold(1, seconds(31));
  EXPECT_FALSE(auto_.in_panic());
  EXPECT_LT(after, 15);
  EXPECT_EQ(hold(1, seconds(60)), 2);
}

TEST_F(AutoscalerTest, ShortHistoryAveragesOverTheObservedTime) {
  // A new pool with two requests in flight for 3 s wants ceil(2 / 0.7) = 3 right away,
  // not a sixtieth of that.
  in_.ready_instances = 3;
  EXPECT_EQ(hold(2, seconds(3)), 3);
}

TEST(KpaConfig, PanicWindowIsTenPercentOfStableWindow) {
  KpaConfig c;
  EXPECT_EQ(c.panic_window(), std::chrono::duration_cast<Duration>(seconds(6)));
  c.stable_window = milliseconds(10'000);
  EXPECT_EQ(c.panic_window(), std::chrono::duration_cast<Duration>(seconds(1)));
}

}  // namespace
}  // namespace kumo::scheduler
