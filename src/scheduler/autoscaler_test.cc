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
  // 10 and 4 requests in turn: an average of 7 wants ceil(7 / 0.7) = 10 instances, which
  // the peak of 10 did use.
  for (int i = 0; i < 60; ++i) {
    hold(10, seconds(1));
    hold(4, seconds(1));
  }
  EXPECT_EQ(auto_.desired(now_, in_), 10);
  in_.concurrency = 10;
  in_.ready_instances = 1;
  EXPECT_EQ(hold(7, seconds(120)), 1);  // 7 of 10 slots is exactly the target
}

TEST_F(AutoscalerTest, OneRequestAtATimeWantsOneInstance) {
  // A steady single request: KPA's 70 % target alone would want ceil(1 / 0.7) = 2.
  EXPECT_EQ(hold(1, seconds(120)), 1);
  EXPECT_FALSE(auto_.in_panic());
  // A sequential client: one request, a pause, the next one.
  for (int i = 0; i < 100; ++i) {
    hold(1, milliseconds(300), milliseconds(100));
    EXPECT_EQ(hold(0, milliseconds(100), milliseconds(100)), 1);
  }
  EXPECT_FALSE(auto_.in_panic());
}

TEST_F(AutoscalerTest, HeadroomNeverExceedsThePeakOfTheWindow) {
  in_.ready_instances = 7;
  EXPECT_EQ(hold(7, seconds(120)), 7);  // not ceil(7 / 0.7) = 10: no more than ever used
  in_.concurrency = 4;
  in_.ready_instances = 2;
  EXPECT_EQ(hold(6, seconds(120)), 2);  // ceil(6 / 4), not ceil(6 / 2.8) = 3
}

TEST_F(AutoscalerTest, PeakForgetsWhatLeftTheWindow) {
  hold(9, seconds(1));
  hold(2, seconds(10));
  EXPECT_DOUBLE_EQ(auto_.peak(now_, seconds(60)), 9);
  EXPECT_DOUBLE_EQ(auto_.peak(now_, seconds(6)), 2);
  hold(5, seconds(1));
  hold(1, seconds(60));
  EXPECT_DOUBLE_EQ(auto_.peak(now_, seconds(60)), 1);
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
  EXPECT_EQ(hold(2, seconds(120)), 2);  // calm: ceil(2 / 0.7) = 3 capped at the peak, 2
  EXPECT_FALSE(auto_.in_panic());

  int spike = hold(10, seconds(6));  // the 6 s panic window sees 10 at once
  EXPECT_TRUE(auto_.in_panic());
  EXPECT_EQ(spike, 10);
  in_.ready_instances = 10;

  // The spike ends; the panic window forgets it in 6 s but panic never scales down.
  EXPECT_EQ(hold(2, seconds(30)), 10);
  EXPECT_TRUE(auto_.in_panic());

  // A full stable window after the panic condition last held, panic ends and the stable
  // rule takes over again.
  int after = hold(2, seconds(31));
  EXPECT_FALSE(auto_.in_panic());
  EXPECT_LT(after, 10);
  EXPECT_EQ(hold(2, seconds(60)), 2);
}

TEST_F(AutoscalerTest, ShortHistoryAveragesOverTheObservedTime) {
  // A new pool with one and five requests in flight in turn for 3 s wants
  // ceil(3 / 0.7) = 5 right away, not a sixtieth of that.
  in_.ready_instances = 5;
  int desired = 0;
  for (int i = 0; i < 6; ++i) {
    desired = hold(i % 2 == 0 ? 1 : 5, milliseconds(500), milliseconds(100));
  }
  EXPECT_EQ(desired, 5);
}

TEST(KpaConfig, PanicWindowIsTenPercentOfStableWindow) {
  KpaConfig c;
  EXPECT_EQ(c.panic_window(), std::chrono::duration_cast<Duration>(seconds(6)));
  c.stable_window = milliseconds(10'000);
  EXPECT_EQ(c.panic_window(), std::chrono::duration_cast<Duration>(seconds(1)));
}

}  // namespace
}  // namespace kumo::scheduler
