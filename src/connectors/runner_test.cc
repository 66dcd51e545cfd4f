#include "connectors/runner.h"

#include <gtest/gtest.h>

#include <atomic>

namespace kumo::connectors {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesUpToTheCapAndResets) {
  Backoff b(milliseconds(100), milliseconds(350));
  EXPECT_EQ(b.next(), milliseconds(100));
  EXPECT_EQ(b.next(), milliseconds(200));
  EXPECT_EQ(b.next(), milliseconds(350));
  EXPECT_EQ(b.next(), milliseconds(350));
  b.reset();
  EXPECT_EQ(b.next(), milliseconds(100));
}

// Stands for a connector waiting out a long backoff.
class Sleeper final : public Connector {
 public:
  void run(std::stop_token stop) override {
    running = true;
    woke_early = !sleep_for(stop, std::chrono::hours(1));
  }
  std::atomic<bool> running{false};
  std::atomic<bool> woke_early{false};
};

TEST(Connectors, StopCutsABackoffShortAndJoins) {
  auto owned = std::make_unique<Sleeper>();
  Sleeper* sleeper = owned.get();
  std::vector<std::unique_ptr<Connector>> list;
  list.push_back(std::move(owned));
  Connectors running(std::move(list));
  while (!sleeper->running) std::this_thread::yield();
  running.stop();  // would take an hour if the sleep ignored the stop request
  EXPECT_TRUE(sleeper->woke_early);
}

}  // namespace
}  // namespace kumo::connectors
