// ChangeDelivery: hands the embedded tables' outbox to the event sink, in order.
//
// A thread reads the oldest pending changes, calls EventSink::table_changed() for each and
// acks it once the sink returned a value (it committed the invocations). On an error it
// keeps the change and retries with backoff (up to max_backoff), so nothing a client was
// told is stored goes unreported, even while the sink is unavailable or across a restart.
// Delivery is at least once: a crash between the sink's commit and the ack repeats a change.
// A change whose stored images cannot be read (ItemStore::pending's `unreadable`) is published
// to events::kDeadLetterTopic, with a log line, and acked: it must not stall the ones after it.
//
// Thread-safety: notify() may be called from any thread; start()/stop() from the owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "events/sink.h"
#include "tables/item_store.h"

namespace kumo::tables {

struct DeliveryOptions {
  std::chrono::milliseconds sweep_interval{1000};  // looks at the outbox at least this often
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

class ChangeDelivery {
 public:
  ChangeDelivery(ItemStore& store, events::EventSink& sink, DeliveryOptions options = {});
  ~ChangeDelivery();  // stops
  ChangeDelivery(const ChangeDelivery&) = delete;
  ChangeDelivery& operator=(const ChangeDelivery&) = delete;

  void start();
  // A change was written: deliver it now rather than at the next sweep.
  void notify();
  // Joins the thread; undelivered changes stay in the outbox for the next start.
  void stop();

  // One pass on the caller's thread: delivers pending changes until the outbox is empty or
  // the sink fails. Returns how many were delivered, or the sink's or store's error.
  Result<int> deliver_pending();

 private:
  void run();
  // A change whose images cannot be read goes to the dead-letter topic instead of the triggers.
  Result<int> dead_letter(const ChangeRecord& change);

  ItemStore& store_;
  events::EventSink& sink_;
  const DeliveryOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;      // Guarded by mu_.
  bool notified_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace kumo::tables
