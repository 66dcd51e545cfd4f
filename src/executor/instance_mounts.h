// InstanceMounts: the file system an instance (or a zygote template) sees, set up in a
// mount namespace of its own between fork and exec. This is the one place that makes an
// instance's mounts; the sandbox (user and pid namespaces, seccomp) builds on it.
//
// The child unshares CLONE_NEWNS, makes every mount private (nothing it mounts reaches the
// host, nothing the host mounts later reaches it), mounts a tmpfs of `tmp_mb` MB at /tmp
// (its writable space: a full one gives ENOSPC) and then binds each `read_only` source at
// its target, read-only: the function's code at its task root, so that opening main.py for
// writing fails with EROFS instead of changing the stored package. The sources are opened
// in the new namespace before the tmpfs covers /tmp, so they stay reachable when they lie
// under /tmp (where tests keep their data directories); a target under /tmp is then made
// inside the new tmpfs.
// Read-only against mistakes, not against a hostile root: a process with CAP_SYS_ADMIN can
// remount; dropping that is the sandbox's job.
//
// Without permission for mount namespaces (mount_namespaces_usable() false), the launcher
// gives each instance a private copy of its code instead (spawn.h's make_workdir).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace kumo::executor {

struct ReadOnlyBind {
  std::string source;  // an existing folder or file
  std::string target;  // an existing folder or file, or one under /tmp (made as needed)
};

struct MountPlan {
  bool enabled = false;  // false: the child stays in the parent's mount namespace
  std::vector<ReadOnlyBind> read_only;
  int tmp_mb = 0;        // > 0: a tmpfs of this size at /tmp
};

// A MountPlan made ready in the parent: every string the child needs built, so that the
// child only makes system calls. Must live until the child has exec'd.
class PreparedMounts {
 public:
  static Result<PreparedMounts> prepare(const MountPlan& plan);
  // In the forked child before exec (async-signal-safe): enters the plan; nullptr on
  // success, else the name of the step that failed.
  const char* enter() const;
  bool enabled() const { return enabled_; }

 private:
  static constexpr size_t kMaxBinds = 8;
  struct Bind {
    std::string source;
    std::string target;
    std::vector<std::string> made_dirs;  // the target's folders, top down, made if missing
    bool is_dir = true;
  };
  bool enabled_ = false;
  std::vector<Bind> binds_;
  std::string tmp_options_;  // empty: no tmpfs
};

// True when this process may make a mount namespace with a tmpfs and a read-only bind in it
// (tried once, in a throwaway child; the answer is cached).
bool mount_namespaces_usable();

}  // namespace kumo::executor
