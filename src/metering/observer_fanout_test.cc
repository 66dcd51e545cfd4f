#include "metering/observer_fanout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kumo::metering {
namespace {

struct Recorder : scheduler::InvocationObserver {
  std::vector<std::string> seen;
  void on_invocation(const scheduler::InvocationRecord& r) override {
    seen.push_back(r.request_id);
  }
};

TEST(ObserverFanout, ForwardsEachRecordToEveryObserver) {
  Recorder a;
  Recorder b;
  ObserverFanout fanout({&a, &b});
  scheduler::InvocationRecord r;
  r.request_id = "r1";
  fanout.on_invocation(r);
  r.request_id = "r2";
  fanout.on_invocation(r);
  EXPECT_EQ(a.seen, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(b.seen, a.seen);
}

}  // namespace
}  // namespace kumo::metering
