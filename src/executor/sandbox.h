// Sandbox: the box an instance (or a zygote template, whose forked instances inherit it)
// runs in. Entered by the child between clone and exec (spawn.cc):
//   - its own mount, pid, ipc, uts and cgroup namespaces, and a network namespace with only
//     loopback unless `network` (then it shares the host's);
//   - a new root on a small tmpfs: /usr (and the /bin, /lib, /sbin links of a merged /usr),
//     /etc without its secrets, the extra `read_only` folders at their own paths, all
//     read-only; the code read-only at /var/task and the runtime shim at /var/runtime; a
//     tmpfs of `tmp_mb` MB at /tmp; `writable` folders (an operator's shares) at their own
//     paths; a fresh /proc of its pid namespace; a minimal /dev; nothing else of the host
//     (no data directory, no other function, no server process);
//   - a non-root uid/gid, no supplementary groups, no capabilities (an empty bounding set),
//     RLIMIT_NOFILE of `max_open_files`, no_new_privs and the seccomp filter.
// The child is pid 1 of its pid namespace: when it dies, everything it started dies too.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace kumo::executor {

class SeccompFilter;

inline constexpr const char* kTaskRoot = "/var/task";
inline constexpr const char* kRuntimeRoot = "/var/runtime";

struct SandboxPlan {
  bool enabled = false;
  bool network = false;           // true: the host's network namespace
  uid_t uid = 0;                  // the function's own (sandbox_uid())
  std::string code_dir;           // bound read-only at kTaskRoot
  std::string runtime_dir;        // bound read-only at kRuntimeRoot
  std::vector<std::string> read_only;  // host folders bound read-only at their own paths
  std::vector<std::string> writable;   // host folders bound writable at their own paths
  std::vector<std::string> devices;     // host device files also bound into its /dev
  int tmp_mb = 512;
  int max_open_files = 1024;
  const SeccompFilter* seccomp = nullptr;  // must outlive the spawn; null: none
};

// The uid (and gid) of a function's instances: one per function name, in a range no host
// account uses. Two names may share one; their namespaces keep them apart.
uid_t sandbox_uid(const std::string& function);

// A SandboxPlan made ready in the parent: every path and string built, so that the child
// only makes system calls. Must live until the child has exec'd.
class PreparedSandbox {
 public:
  // `staging` is an empty folder of the host where the new root is assembled (it stays
  // empty on the host: the assembly happens in the child's mount namespace).
  static Result<PreparedSandbox> prepare(const SandboxPlan& plan, const std::string& staging);
  bool enabled() const { return enabled_; }
  // The flags for clone(): the namespaces the child starts in.
  int clone_flags() const;
  // In the child after it joined its cgroups (async-signal-safe): the rest of the box, up to
  // but not including exec. nullptr on success, else the name of the failed step.
  const char* enter() const;

 // One mkdir, symlink or mount of the plan, run in order by the child.
  struct Step {
    enum Kind { kDir, kFile, kLink, kMount, kRemount } kind;
    std::string a;  // kDir/kFile: the path; kLink: the link's text; kMount: the source
    std::string b;  // kLink: the link; kMount/kRemount: the target
    const char* fstype = nullptr;
    std::string data;
    unsigned long flags = 0;
  };

 private:
  const char* build_root() const;
  const char* drop_privileges() const;

  bool enabled_ = false;
  bool network_ = false;
  uid_t uid_ = 0;
  int max_open_files_ = 0;
  int last_cap_ = 0;
  std::string root_;
  std::vector<Step> steps_;  // in order
  const SeccompFilter* seccomp_ = nullptr;
};

// Empty when this process can build the box (tried once in a throwaway child; cached), else
// why not.
const std::string& sandbox_unavailable_reason();

}  // namespace kumo::executor
