// ExecInstance: an `exec` function's instance: any program started with `/bin/sh -c
// <handler>` that serves HTTP on $PORT. Ready once the port accepts connections; each
// invocation is forwarded as an HTTP request by one of `concurrency` worker threads, each
// with its own keep-alive http::Client. Thread-safety as for ProcessInstance.
//
// A process in a network namespace of its own (a boxed instance) has its 127.0.0.1:$PORT
// there: the readiness probe and the clients connect with sockets made in that namespace
// (NetnsSockets, netns.h), while every thread of ours stays in the server's namespace, since
// the worker threads run the invocations' callbacks (which may launch other instances).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "executor/netns.h"
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

  ExecInstance(InstanceSetup setup, int port)
      : ProcessInstance(std::move(setup)), port_(port) {}

  std::optional<std::chrono::milliseconds> tick_interval() const override;
  void on_tick() override;
  std::string untagged_request_id() override;
  void on_process_gone() override;
  void stop_workers();
  // The process's network namespace when it is not ours (null when it is); found out on first
  // use. An error when it cannot be entered (or the process is gone): then nothing may be
  // tried on our own 127.0.0.1, where another program could listen on the port.
  Result<NetnsSockets*> netns();
  // A new socket to reach the process with, made in its namespace (owned by the caller).
  Result<int> open_socket();
  void worker();
  void serve(const Job& job, http::Client& client);

  const int port_;
  std::mutex netns_mu_;
  bool netns_known_ = false;             // Guarded by netns_mu_.
  std::optional<Error> netns_error_;     // Guarded by netns_mu_.
  std::unique_ptr<NetnsSockets> netns_;  // Guarded by netns_mu_; set once.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;        // Guarded by queue_mu_.
  bool stopping_ = false;        // Guarded by queue_mu_.
  std::vector<std::thread> workers_;
};

}  // namespace kumo::executor
