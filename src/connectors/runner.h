// What every connector shares: the Connector interface, capped backoff, a sleep that a stop
// request cuts short, and Connectors, which runs each connector on its own thread.
//
// Connectors owns its threads; stop() (or the destructor) asks each connector to stop and
// joins it. A connector sees the request through its std::stop_token within about half a
// second. Threading: stop() is called from one thread.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "events/sink.h"

namespace kumo::connectors {

class Connector {
 public:
  virtual ~Connector() = default;
  // Connects, consumes and reconnects until `stop` is requested. Never throws.
  virtual void run(std::stop_token stop) = 0;
};

// Delays between reconnect attempts: doubling from `first` up to `cap`; reset() after a
// successful connection.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap)
      : first_(first), cap_(cap), next_(first) {}
  std::chrono::milliseconds next();
  void reset() { next_ = first_; }

 private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds next_;
};

// The backoff every connector uses: 100 ms doubling to 5 s.
Backoff reconnect_backoff();

// Sleeps for `d` or until stop is requested. Returns false when stop was requested.
bool sleep_for(std::stop_token stop, std::chrono::milliseconds d);

// Hands one message to the sink. Returns true once it is committed (the caller may ack
// upstream); logs and returns false otherwise.
bool deliver(events::EventSink& sink, const std::string& topic, events::Message message,
             const std::string& connector_name);

class Connectors {
 public:
  explicit Connectors(std::vector<std::unique_ptr<Connector>> connectors);
  ~Connectors();
  Connectors(const Connectors&) = delete;
  Connectors& operator=(const Connectors&) = delete;
  // Requests every connector to stop, then joins them all.
  void stop();

 private:
  std::vector<std::unique_ptr<Connector>> connectors_;
  std::vector<std::jthread> threads_;
};

}  // namespace kumo::connectors
