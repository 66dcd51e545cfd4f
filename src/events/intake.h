// Intake: what comes into the events part, written durably before it returns: async
// invocations, topic messages (one pending delivery per subscribed function), and object and
// table changes (one invocation per matching trigger). After a write it calls `wake` so the
// dispatcher looks at once. It also reads back invocations and topic messages.
//
// Ownership: borrows the database, the subscriptions and the clock, which must outlive it.
// Threading: thread-safe; no thread of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "events/events.h"
#include "events/events_db.h"
#include "events/sink.h"
#include "events/subscriptions.h"

namespace kumo::events {

class Intake final : public EventSink {
 public:
  // `retention` only words the not-found message of invocation().
  Intake(EventsDb& db, const Subscriptions& subscriptions, const WallClock& clock,
         std::chrono::milliseconds retention, std::function<void()> wake);

  // Events' methods of the same names (events.h).
  Result<std::string> invoke_async(AsyncRequest request);
  Result<nlohmann::json> invocation(const std::string& request_id) const;
  Result<nlohmann::json> messages(const std::string& topic, int64_t after, int limit) const;

  Result<std::string> publish(const std::string& topic, Message message) override;
  Result<int> object_changed(const ObjectEvent& event) override;
  Result<int> table_changed(const TableChange& change) override;

 private:
  Result<int> insert_matches(const std::vector<Match>& matches, const std::string& payload,
                             const std::string& source);
  void wake() const;

  EventsDb& db_;
  const Subscriptions& subscriptions_;
  const WallClock& clock_;
  const std::chrono::milliseconds retention_;
  const std::function<void()> wake_;
};

}  // namespace kumo::events
