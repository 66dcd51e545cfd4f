// ProcessInstance: what every runtime's instance shares: one child process (its own process
// group), the I/O thread that reads its stdout/stderr into the log file and watches its
// deadlines, the table of in-flight invocations, and the exit sequence (reap, fail what is in
// flight, remove the cgroups and working dir, tell the observer). Once ready, its CPU quota
// applies (cpu_cgroup.h); once idle for `freeze_after` it is frozen (freezer_cgroup.h) until
// the next invocation or its end.
//
// Threading: public methods are thread-safe. The I/O thread runs the hooks and most
// callbacks; an invocation finishes exactly once because whoever takes it out of the table
// (under mu_) is the only one to call its on_done. Subclasses call shutdown() first thing in
// their destructor so that no hook runs on a half-destroyed object. Never destroy an
// instance from inside one of its own callbacks' worker threads other than the I/O thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "executor/cpu_cgroup.h"
#include "executor/freezer_cgroup.h"
#include "executor/instance.h"
#include "executor/log_output.h"
#include "executor/memory_cgroup.h"
#include "executor/pids_cgroup.h"
#include "executor/spawn.h"
#include "executor/unique_fd.h"

namespace kumo::executor {

using SteadyTime = std::chrono::steady_clock::time_point;

// What the launcher prepared for one instance.
struct InstanceSetup {
  std::string id;
  LaunchSpec spec;
  InstanceObserver* observer = nullptr;
  std::unique_ptr<MemoryCgroup> cgroup;  // null when memory is enforced with RLIMIT_AS
  // v1 only; null on v2 (pids.max sits in `cgroup`) or when tasks are not limited.
  std::unique_ptr<PidsCgroup> pids_cgroup;
  std::unique_ptr<CpuCgroup> cpu_cgroup;  // null without a CPU quota; limited once ready
  // Null when idle instances are not frozen; else frozen after `freeze_after` without an
  // invocation in flight.
  std::unique_ptr<FreezerCgroup> freezer;
  std::chrono::milliseconds freeze_after{0};
  std::string workdir;
  MountPlan mounts;  // the code read-only at `workdir` and /tmp (instance_mounts.h)
  SandboxPlan sandbox;  // when enabled, the box instead of `mounts` (sandbox.h)
  // Kumo's API inside the process's network namespace (ProcessLauncher::open_api); the
  // handle is held while the process lives. Unset: none.
  std::function<std::shared_ptr<void>(pid_t)> open_api;
  std::shared_ptr<void> code_lease;  // ProcessLauncher::code_in_use(spec.code_dir) while held
  // The instance's own identity (LauncherOptions::credentials); let go when the process is
  // gone, so the credential ends with the instance.
  std::shared_ptr<void> credential;
  LogFile log;

  // The cgroup.procs files the child joins before exec.
  std::vector<std::string> cgroup_procs() const;
  // Sets where the child runs: its working dir and its mounts or box.
  void place(ProcessSpec& ps) const;
};

class ProcessInstance : public Instance {
 public:
  ~ProcessInstance() override;
  const std::string& id() const override { return setup_.id; }
  void stop() override;
  int64_t pss_bytes() const override;

 protected:
  struct Pending {
    std::string request_id;
    ReplyHandler handler;
    SteadyTime deadline;
    std::chrono::milliseconds timeout{0};
    bool streamed = false;
    std::string content_type;
    bool started = true;  // false while it waits behind a running one (serial instances)
    SteadyTime added{};   // when invoke() registered it
    SteadyTime began{};   // when it started: added, or when the one before it ended
  };

  explicit ProcessInstance(InstanceSetup setup);
  // Spawns the process and starts the I/O thread.
  Result<void> start(const ProcessSpec& spec);
  // Starts the I/O thread, which first calls `obtain` for the process (e.g. waits for a
  // zygote and forks from it). When `obtain` fails the instance ends without a process:
  // init fails with its error (unless `obtain` reported one) and on_exit follows.
  void start_deferred(std::function<Result<SpawnedProcess>()> obtain);
  void shutdown();

  // Registers an invocation and returns its slot; nullopt when the process is already gone
  // (its on_done then runs with kCrash on another thread).
  std::optional<uint32_t> add_pending(const Invocation& inv, ReplyHandler handler);
  std::optional<Pending> take_pending(uint32_t slot);
  // The entry for `slot` or null. Only for runtimes whose entries are taken on the I/O
  // thread alone (python), and only on that thread.
  Pending* find_pending(uint32_t slot);
  // Finishes `slot` with `reply` if nobody finished it yet.
  void finish(uint32_t slot, Reply reply);
  // Serial instances run one invocation at a time: later ones wait, their timeouts not yet
  // running, until start_next_waiting() is called when the running one ends.
  void set_serial(bool serial) { serial_ = serial; }
  bool serial() const { return serial_; }
  void start_next_waiting();
  // finish() for a reply after which the process goes on to the next waiting invocation:
  // that one is marked started first, so its wait ends when this one's reply arrived, not
  // after this one's on_done ran.
  void finish_and_start_next(uint32_t slot, Reply reply);

  void mark_ready();
  // Reports init failure once; kills the process unless it is known to exit by itself (the
  // shim exits after INIT_ERROR; the init deadline still applies if it does not).
  void fail_init(Reply error, bool kill = true);
  void kill_group(bool requested);
  // Waits until the process is gone or `limit` passed; true when gone.
  bool wait_for_exit(std::chrono::milliseconds limit);
  void note_oom() { oom_reported_ = true; }
  // Returns once the output the process wrote so far is in the log (bounded wait), so that
  // lines written during an invocation are attributed to it before it is finished.
  void sync_output();
  // The request id of the only invocation in flight; empty when there are none or several.
  std::string sole_request_id();
  bool ready() const { return ready_; }
  const LaunchSpec& spec() const { return setup_.spec; }
  const std::string& workdir() const { return setup_.workdir; }
  const MountPlan& mounts() const { return setup_.mounts; }
  const InstanceSetup& setup() const { return setup_; }

  pid_t pid() const { return pid_; }
  // True once stop() (or the destructor) asked the process to go.
  bool stop_requested() const { return requested_; }
  SteadyTime init_deadline() const { return init_deadline_; }
  Reply init_timeout_reply() const;

  // Hooks, run on the I/O thread.
  // First thing on the I/O thread, once the process runs.
  virtual void on_started() {}
  virtual int control_fd() const { return -1; }
  virtual void on_control_readable() {}
  // False once the control channel reached end of stream (or there is none).
  virtual bool control_open() const { return false; }
  virtual std::optional<std::chrono::milliseconds> tick_interval() const { return {}; }
  // After wake_io() (from any thread): runs on the I/O thread's next turn.
  virtual void on_woken() {}
  void wake_io();
  virtual void on_tick() {}
  // The request id of lines without a tag (exec: the only invocation in flight).
  virtual std::string untagged_request_id();
  // The process is gone: in-flight invocations are finished; stop helper threads.
  virtual void on_process_gone() {}
  // Reaps the exited process (called under mu_, the process's group killed); returns its
  // wait status. Default: waitpid, for our own children.
  virtual int reap(pid_t pid);

  // Guards pending_, reaped_, exited_, sync_*, late_threads_, next_slot_, freeze_at_, frozen_,
  // killed_.
  std::mutex mu_;

 private:
  void io_loop();
  bool adopt(std::function<Result<SpawnedProcess>()>& obtain);
  std::optional<std::chrono::milliseconds> poll_timeout();
  void check_deadlines();
  // Idle since freeze_at_: freezes the instance. I/O thread.
  void freeze_if_idle();
  // Under mu_: the table just became empty, or the instance ready.
  void schedule_freeze_locked();
  // Under mu_: lets a frozen instance run again.
  void thaw_locked();
  // Reads what one pipe holds into the log; false at end of stream.
  bool read_output(int fd, LineSplitter& splitter, const char* stream);
  // One poll over every fd; true when the pidfd says the process exited.
  bool poll_once(std::optional<std::chrono::milliseconds> wait);
  bool process_gone(bool pidfd_readable);
  // True when stdout or stderr has unread bytes. Any thread: the pipes stay open until
  // destruction.
  bool output_pending() const;
  void serve_output_sync();
  void drain_after_exit();
  void exit_sequence(int status);
  Reply crash_reply(const ExitInfo& info) const;

  InstanceSetup setup_;
  SpawnedProcess proc_;  // set before the I/O thread starts or, deferred, on it under mu_
  std::shared_ptr<void> api_listener_;  // set with proc_
  std::atomic<pid_t> pid_{-1};
  std::function<Result<SpawnedProcess>()> obtain_;  // deferred start only
  UniqueFd wake_fd_;
  std::thread io_thread_;
  std::atomic<std::thread::id> io_thread_id_{};  // set by the I/O thread when it starts
  LineSplitter stdout_lines_, stderr_lines_;
  bool stdout_eof_ = false;  // I/O thread only
  bool stderr_eof_ = false;  // I/O thread only
  SteadyTime init_deadline_;
  bool serial_ = false;  // set before the I/O thread starts
  std::atomic<bool> ready_{false};
  std::atomic<bool> init_reported_{false};
  std::atomic<bool> requested_{false};
  std::atomic<bool> oom_reported_{false};
  bool timed_out_ = false;  // I/O thread only
  std::map<uint32_t, Pending> pending_;  // Guarded by mu_.
  uint32_t next_slot_ = 1;               // Guarded by mu_.
  bool reaped_ = false;                  // Guarded by mu_.
  bool exited_ = false;                  // Guarded by mu_.
  std::optional<SteadyTime> freeze_at_;  // Guarded by mu_.
  bool frozen_ = false;                  // Guarded by mu_.
  bool killed_ = false;                  // Guarded by mu_. Never frozen again once set.
  uint64_t sync_requested_ = 0;          // Guarded by mu_.
  uint64_t sync_done_ = 0;               // Guarded by mu_.
  std::condition_variable exit_cv_;
  std::vector<std::thread> late_threads_;  // Guarded by mu_.
};

// How long an instance may take to become ready: its timeout, but at least 10 s, since a
// cold interpreter under load or a model load is slower than a short invocation timeout.
std::chrono::milliseconds init_timeout(const LaunchSpec& spec);

// "function timed out after 3.00 s"
std::string timeout_message(std::chrono::milliseconds timeout);

}  // namespace kumo::executor
