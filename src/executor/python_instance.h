// PythonInstance: a python3 function's instance: the interpreter running the kumo shim
// (src/runtimes/python/kumo_runtime.py), spoken to over a socketpair as fd 3 with the frames
// of executor/frame.h; either a fresh interpreter or a process forked from the version's
// Zygote (zygote.h), which speaks the same frames. Thread-safety as for ProcessInstance.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "executor/frame.h"
#include "executor/process_instance.h"
#include "executor/zygote.h"

namespace kumo::executor {

class PythonInstance final : public ProcessInstance {
 public:
  // Starts `python -u -B -s <shim_path>` in the instance's working dir.
  static Result<std::unique_ptr<Instance>> launch(InstanceSetup setup, const std::string& python,
                                                  const std::string& shim_path,
                                                  std::vector<std::string> env,
                                                  int64_t rlimit_as_bytes);
  // Returns at once; the I/O thread waits for `zygote` to finish init and forks from it. An
  // init error there is this instance's init error; a template that died or cannot fork
  // makes it start a fresh interpreter (the other arguments) instead.
  static std::unique_ptr<Instance> launch_forked(InstanceSetup setup,
                                                 std::shared_ptr<Zygote> zygote,
                                                 const std::string& python,
                                                 const std::string& shim_path,
                                                 std::vector<std::string> env,
                                                 int64_t rlimit_as_bytes,
                                                 pid_t prepared_pid = 0);
  ~PythonInstance() override;

  void invoke(Invocation inv, ReplyHandler handler) override;
  // One invocation ahead when the function serves one at a time: the shim reads it as soon
  // as the running one returns.
  int pipeline_depth() const override { return serial() ? 1 : 0; }

 private:
  explicit PythonInstance(InstanceSetup setup) : ProcessInstance(std::move(setup)) {}

  Result<SpawnedProcess> obtain_process();
  Result<SpawnedProcess> fork_from_zygote();
  Result<SpawnedProcess> spawn_fresh();
  int reap(pid_t pid) override;
  void on_started() override;
  // Not polled while a stream's consumer is full (pause_): the shim's writes then block.
  int control_fd() const override { return control_eof_ || pause_ ? -1 : control_.get(); }
  bool control_open() const override { return !control_eof_; }
  void on_control_readable() override;
  void on_woken() override;
  // Handles the frames reader_ holds, until it holds no whole one or a stream pauses.
  void handle_frames();
  void handle(Frame frame);
  void handle_stream(const Frame& frame);
  // Asks the slot's consumer for room after a chunk; pauses reading when it has none.
  void pause_if_full(uint32_t slot, Pending& p);
  // The slot's consumer went away: it ends and the process is stopped.
  void abandon(uint32_t slot);
  // A frame whose body was over kMaxResultBytes (and dropped by reader_).
  void handle_oversized(const Frame& frame);

  // Shared with a paused stream's resume callback, which may outlive the instance.
  struct Pause {
    std::mutex mu;
    PythonInstance* owner = nullptr;  // Guarded by mu; null once the instance is gone.
    bool resumed = false;             // Guarded by mu.
  };

  UniqueFd control_;          // our end of the socketpair
  bool control_eof_ = false;  // I/O thread only
  FrameReader reader_{kMaxResultBytes};  // I/O thread only
  std::shared_ptr<Pause> pause_;          // I/O thread only; null while reading
  uint32_t paused_slot_ = 0;              // I/O thread only
  std::mutex write_mu_;       // one frame at a time on control_
  // The cgroups this instance joins from here, while the interpreter starts.
  std::vector<std::string> cgroup_procs_;
  pid_t prepared_pid_ = 0;  // a spare already in this instance's cgroups (Zygote::take_prepared)
  // Deferred starts only, used on the I/O thread.
  std::shared_ptr<Zygote> zygote_;  // null: a fresh interpreter
  std::string python_, shim_path_;
  std::vector<std::string> env_;
  int64_t rlimit_as_bytes_ = 0;
};

}  // namespace kumo::executor
