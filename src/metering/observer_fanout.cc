#include "metering/observer_fanout.h"

#include <utility>

#include "common/check.h"

namespace kumo::metering {

ObserverFanout::ObserverFanout(std::vector<scheduler::InvocationObserver*> observers)
    : observers_(std::move(observers)) {
  for (auto* o : observers_) KUMO_CHECK(o != nullptr);
}

void ObserverFanout::on_invocation(const scheduler::InvocationRecord& record) {
  for (auto* o : observers_) o->on_invocation(record);
}

}  // namespace kumo::metering
