// ExecInstance: an `exec` function's instance: any program started with `/bin/sh -c
// <handler>` that serves HTTP on $PORT. Ready once the port accepts connections; each
// invocation is forwarded as an HTTP request by one of `concurrency` worker threads, each
// with its own keep-alive http::Client. Thread-safety as for ProcessInstance.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "executor/process_instance.h"

namespace kumo::http {
class Client;
}  // namespace kumo::http

namespace kumo::executor {

class ExecInstance final : public ProcessInstance {
 public:
  static Result<std::unique_ptr<Instance>> launch(InstanceSetup setup,
                                                  std::vector<std::string> env,
                                                  int64_t rlimit_as_bytes);
  ~ExecInstance() override;

  void invoke(Invocation inv, ReplyHandler handler) override;

 private:
  struct Job {
    uint32_t slot = 0;
    Invocation inv;
    SteadyTime deadline;
  };

  ExecInstance(InstanceSetup setup, int port) : ProcessInstance(std::move(setup)), port_(port) {}

  std::optional<std::chrono::milliseconds> tick_interval() const override;
  void on_tick() override;
  std::string untagged_request_id() override;
  void on_process_gone() override;
  void stop_workers();
  void worker();
  void serve(const Job& job, http::Client& client);

  const int port_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;        // Guarded by queue_mu_.
  bool stopping_ = false;        // Guarded by queue_mu_.
  std::vector<std::thread> workers_;
};

}  // namespace kumo::executor
