// Zygote: the template process of one python3 function version. It runs the shim in template
// mode: the function's init (its module import) once, single-threaded, then forks each new
// instance from itself on request, so a cold start costs a fork instead of an interpreter
// start plus imports (docs/zygote.md says why and what was measured).
//
// The template talks over a SOCK_SEQPACKET socket (its fd 3), one JSON message each way:
//   template -> kumo, once: {"ready": true} | {"init_error": {"type", "message"}}
//   kumo -> template: {"fork": id, "cwd", "env"} + SCM_RIGHTS [control, stdout, stderr]
//                     -> {"pid": N}   (the child: new session, those fds as 3/1/2)
//                     ("fresh": true when the spare had died and the child is a new fork)
//   kumo -> template: {"spare": 1} -> {"pid": N}   (the child the next fork hands over)
//   kumo -> template: {"reap": pid} -> {"status": wait status}
// Forked instances are the template's children, so their exit status comes from it; kumo
// watches them with a pidfd and asks for the status once the pidfd says they exited.
//
// Owned by the launcher (one per version) and shared by the instances forked from it (they
// need it to learn their exit status); the last owner kills the template. Thread-safe.
#pragma once

#include <sys/types.h>

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

#include "common/result.h"
#include "executor/instance.h"
#include "executor/log_output.h"
#include "executor/cpu_cgroup.h"
#include "executor/freezer_cgroup.h"
#include "executor/memory_cgroup.h"
#include "executor/pids_cgroup.h"
#include "executor/spawn.h"
#include "executor/unique_fd.h"

namespace kumo::executor {

// The template's current spare child, moved ahead of time into cgroups for the next instance
// forked from it: joining a cgroup costs an RCU grace period in the kernel (~8 ms here), which
// a cold start then does not wait for.
struct PreparedSpare {
  pid_t pid = 0;
  std::unique_ptr<MemoryCgroup> cgroup;
  std::unique_ptr<PidsCgroup> pids_cgroup;
  std::unique_ptr<CpuCgroup> cpu_cgroup;  // its quota already applied
  std::unique_ptr<FreezerCgroup> freezer;
};

struct ZygoteConfig {
  std::string python;
  std::string shim_path;
  std::vector<std::string> env;  // "KEY=value"; the launcher adds the single-thread limits
  std::string workdir;           // the template's task root (its copy, or the mount point)
  MountPlan mounts;              // the template's namespace, which forked instances share
  // The template's box (sandbox.h; instead of `mounts`), which forked instances share: they
  // live in its pid namespace, and the template reports their pids as seen there.
  SandboxPlan sandbox;
  // Kumo's API inside the template's network namespace, which forked instances share.
  std::function<std::shared_ptr<void>(pid_t)> open_api;
  std::shared_ptr<void> code_lease;  // held while the template lives
  std::shared_ptr<void> credential;  // the template's own identity, ended with it
  std::string log_path;          // init output and tracebacks go to the function's log
  int64_t rlimit_as_bytes = 0;   // inherited by every forked instance
  std::unique_ptr<MemoryCgroup> cgroup;  // the template's (init's) memory; may be null
  std::unique_ptr<PidsCgroup> pids_cgroup;
  std::chrono::milliseconds init_timeout{10'000};
  // Makes an instance's cgroups and moves `pid` into them; empty: spares are not prepared.
  std::function<Result<PreparedSpare>(pid_t)> prepare_spare;
};

class Zygote {
 public:
  enum class State {
    kStarting,    // init is running
    kReady,       // forks on request
    kInitFailed,  // init raised: init_error() says what; the template exited
    kGone,        // the template died (before or after ready) without an init error
  };

  // Spawns the template; fails when the interpreter cannot be started.
  static Result<std::shared_ptr<Zygote>> start(ZygoteConfig config);
  ~Zygote();
  Zygote(const Zygote&) = delete;
  Zygote& operator=(const Zygote&) = delete;

  State state();
  // True when it reached kReady at some point.
  bool was_ready();
  // Waits while the template is starting; returns early (kStarting) once `give_up` says so
  // (checked every 20 ms).
  State wait(const std::function<bool()>& give_up);
  // The init failure (kInitError, the exception's type and message); valid in kInitFailed.
  Reply init_error();

  // The template's workdir when it runs in its own mount namespace (the code is mounted
  // there, for every instance forked from it); empty when not.
  const std::string& task_root() const { return task_root_; }

  // Forks an instance: it becomes a session leader with `control`, `out`, `err` as its fds
  // 3, 1 and 2, `cwd` as its working dir and `env` as its environment, and then waits for
  // the START frame like a fresh instance. Returns its pid; `fresh` tells whether it was
  // forked for this request (it then is not the spare that take_prepared() returned).
  Result<pid_t> fork(const std::string& id, const std::string& cwd,
                     const std::vector<std::string>& env, int control, int out, int err,
                     bool* fresh);
  // The spare prepared for the next fork, if one is; the caller owns its cgroups.
  std::optional<PreparedSpare> take_prepared();
  // The wait status of a forked instance that has exited (it stays a zombie until then, so
  // its pid cannot be reused); nullopt when the template is gone.
  std::optional<int> reap(pid_t pid);

 private:
  explicit Zygote(ZygoteConfig config);
  void watch();
  void read_status_message();
  void drain_output();
  bool read_output(int fd, LineSplitter& splitter, const char* stream);
  void set_state(State state);
  void prepare_spare();
  Result<std::string> request(const std::string& message, const std::vector<int>& fds);
  // The pid in Kumo's namespace of the template's child `pid` (as the template sees it).
  pid_t host_pid(pid_t pid);

  ZygoteConfig config_;
  std::string task_root_;
  SpawnedProcess proc_;
  std::shared_ptr<void> api_listener_;
  UniqueFd control_;
  UniqueFd wake_fd_;
  LogFile log_;  // watcher thread only
  LineSplitter stdout_lines_, stderr_lines_;
  std::thread watcher_;

  std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kStarting;  // Guarded by mu_.
  Reply init_error_;                // Guarded by mu_.
  bool closing_ = false;            // Guarded by mu_.
  bool was_ready_ = false;          // Guarded by mu_.
  bool want_spare_ = false;         // Guarded by mu_.
  std::optional<PreparedSpare> prepared_;  // Guarded by mu_.
  std::map<pid_t, pid_t> inner_pids_;  // host pid -> the template's view. Guarded by mu_.
  std::mutex request_mu_;           // one request/response at a time on control_
};

}  // namespace kumo::executor
