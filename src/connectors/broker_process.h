// Test helpers for the connectors: a real broker (common/testing/server_process.h) and
// RecordingSink, an EventSink that records what it was given and can refuse messages.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/testing/server_process.h"
#include "events/sink.h"

namespace kumo::connectors::testing {

using kumo::testing::find_program;
using kumo::testing::free_port;
using BrokerProcess = kumo::testing::ServerProcess;

class RecordingSink final : public events::EventSink {
 public:
  struct Published {
    std::string topic;
    events::Message message;
  };

  Result<std::string> publish(const std::string& topic, events::Message message) override;
  Result<int> object_changed(const events::ObjectEvent&) override { return 0; }
  Result<int> table_changed(const events::TableChange&) override { return 0; }

  // The next `n` publish() calls fail, as a sink that cannot commit would.
  void refuse_next(int n);
  // Waits until at least `n` messages were accepted; false after `timeout`.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<Published> published() const;
  int attempts() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Published> published_;  // Guarded by mu_.
  int refuse_ = 0;                    // Guarded by mu_.
  int attempts_ = 0;                  // Guarded by mu_.
};

}  // namespace kumo::connectors::testing
