// Test helper: a real server program (etcd, nats-server, mosquitto, redis-server, ...) started
// on 127.0.0.1 and a free port in its own temporary folder, killed and removed on destruction.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kumo::testing {

// The program's path (PATH, then /usr/sbin and /usr/bin), or nullopt when not installed.
std::optional<std::string> find_program(const std::string& name);

// A port on 127.0.0.1 that was free a moment ago.
int free_port();

class ServerProcess {
 public:
  // `args` may contain {port} and {dir}, replaced by the port and the temporary folder.
  // `config` (when not empty) is written to {dir}/broker.conf first, with the same
  // replacements. Returns null (the test should skip) when `program` is not installed.
  // Waits (up to 5 s) until the port accepts connections.
  static std::unique_ptr<ServerProcess> start(const std::string& program,
                                              std::vector<std::string> args,
                                              const std::string& config = "");
  // The same on a given port, e.g. to bring a server back where a client expects it.
  static std::unique_ptr<ServerProcess> start_on(int port, const std::string& program,
                                                 std::vector<std::string> args,
                                                 const std::string& config = "");
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  // The server's own output so far, for failure messages.
  std::string log() const;

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace kumo::testing
