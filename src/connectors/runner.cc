#include "connectors/runner.h"

#include <condition_variable>
#include <mutex>

#include "common/log.h"

namespace kumo::connectors {

std::chrono::milliseconds Backoff::next() {
  std::chrono::milliseconds d = next_;
  next_ = std::min(cap_, next_ * 2);
  return d;
}

Backoff reconnect_backoff() {
  return Backoff(std::chrono::milliseconds(100), std::chrono::seconds(5));
}

bool sleep_for(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

bool deliver(events::EventSink& sink, const std::string& topic, events::Message message,
             const std::string& connector_name) {
  auto id = sink.publish(topic, std::move(message));
  if (!id) {
    spdlog::warn("{}: topic {} did not take a message (will retry): {}", connector_name, topic,
                 id.error().message);
    return false;
  }
  return true;
}

Connectors::Connectors(std::vector<std::unique_ptr<Connector>> connectors)
    : connectors_(std::move(connectors)) {
  for (auto& c : connectors_) {
    threads_.emplace_back([connector = c.get()](std::stop_token stop) { connector->run(stop); });
  }
}

Connectors::~Connectors() { stop(); }

void Connectors::stop() {
  for (auto& t : threads_) t.request_stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace kumo::connectors
