// ObserverFanout: forwards each finished invocation to several observers, so the server can
// wire UsageStore and Metrics into the scheduler's single observer slot.
//
// Ownership: does not own the observers; they must outlive the fanout. The list is fixed at
// construction, so on_invocation is thread-safe whenever each observer's is.
#pragma once

#include <vector>

#include "scheduler/scheduler.h"

namespace kumo::metering {

class ObserverFanout final : public scheduler::InvocationObserver {
 public:
  explicit ObserverFanout(std::vector<scheduler::InvocationObserver*> observers);
  // Calls each observer in the order given.
  void on_invocation(const scheduler::InvocationRecord& record) override;

 private:
  const std::vector<scheduler::InvocationObserver*> observers_;
};

}  // namespace kumo::metering
