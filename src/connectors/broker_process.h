// Test helper: a real broker server (nats-server, mosquitto, redis-server) started on
// 127.0.0.1 and a free port in its own temporary folder, stopped and removed on destruction.
// Also RecordingSink, an EventSink that records what it was given and can refuse messages.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "events/sink.h"

namespace kumo::connectors::testing {

// The program's path (PATH, then /usr/sbin and /usr/bin), or nullopt when not installed.
std::optional<std::string> find_program(const std::string& name);

// A port on 127.0.0.1 that was free a moment ago.
int free_port();

class BrokerProcess {
 public:
  // `args` may contain {port} and {dir}, replaced by the port and the temporary folder.
  // `config` (when not empty) is written to {dir}/broker.conf first, with the same
  // replacements. Returns null (the test should skip) when `program` is not installed.
  static std::unique_ptr<BrokerProcess> start(const std::string& program,
                                              std::vector<std::string> args,
                                              const std::string& config = "");
  // The same on a given port, e.g. to bring a server back where a client expects it.
  static std::unique_ptr<BrokerProcess> start_on(int port, const std::string& program,
                                                 std::vector<std::string> args,
                                                 const std::string& config = "");
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;
  ~BrokerProcess();

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // The server's own output so far, for failure messages.
  std::string log() const;

 private:
  BrokerProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

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
