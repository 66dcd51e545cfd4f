#include "tables/delivery.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/tenant_name.h"

namespace kumo::tables {

ChangeDelivery::ChangeDelivery(ItemStore& store, events::EventSink& sink, DeliveryOptions options)
    : store_(store), sink_(sink), options_(options) {}

ChangeDelivery::~ChangeDelivery() { stop(); }

void ChangeDelivery::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void ChangeDelivery::notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  wake_.notify_one();
}

void ChangeDelivery::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<int> ChangeDelivery::deliver_pending() {
  int delivered = 0;
  for (;;) {
    auto batch = store_.pending(100);
    if (!batch) return batch.error();
    if (batch->empty()) return delivered;
    for (const ChangeRecord& change : *batch) {
      auto r = change.unreadable.empty() ? sink_.table_changed(to_table_change(change))
                                         : dead_letter(change);
      if (!r) return r.error();
      if (auto acked = store_.ack(change.sequence); !acked) return acked.error();
      ++delivered;
    }
  }
}

Result<int> ChangeDelivery::dead_letter(const ChangeRecord& change) {
  // A tenant's table's dead letters go to that tenant's topic, never another's.
  std::string topic =
      qualify_name(split_internal_name(change.table).tenant, events::kDeadLetterTopic);
  spdlog::warn("tables: {}: change {} of key {} cannot be delivered ({}); it goes to topic '{}'",
               change.table, change.sequence, change.keys.dump(), change.unreadable, topic);
  auto message = undeliverable_change(change, change.unreadable);
  auto id = sink_.publish(topic, std::move(message));
  if (!id) return id.error();
  return 0;
}

void ChangeDelivery::run() {
  auto backoff = options_.first_backoff;
  bool failing = false;
  std::unique_lock lock(mu_);
  while (!stop_) {
    notified_ = false;
    lock.unlock();
    auto r = deliver_pending();
    lock.lock();
    auto wait = options_.sweep_interval;
    if (r) {
      if (failing) spdlog::info("tables: change delivery resumed");
      failing = false;
      backoff = options_.first_backoff;
    } else {
      if (!failing) {
        spdlog::warn("tables: cannot deliver changes yet, will retry: {}", r.error().message);
      }
      failing = true;
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    // A failing sink is retried on its backoff, not at once on every new write.
    wake_.wait_for(lock, wait, [&] { return stop_ || (notified_ && !failing); });
  }
}

}  // namespace kumo::tables
