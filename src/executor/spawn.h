// Starting one instance process: fork + exec into a new process group, with its pipes, its
// control socket as fd 3, its cgroups joined (or RLIMIT_AS set) before exec, every other fd
// closed. Also the instance's working directory. Free functions; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "executor/instance_mounts.h"
#include "executor/sandbox.h"
#include "executor/unique_fd.h"

namespace kumo::executor {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is the program's path
  std::vector<std::string> env;   // "KEY=value"
  std::string cwd;                // with a sandbox, a path inside the box (kTaskRoot)
  std::vector<std::string> cgroup_procs;  // the child writes its pid to each before exec
  int64_t rlimit_as_bytes = 0;    // when > 0, RLIMIT_AS for the child
  int control_fd = -1;            // when >= 0, becomes the child's fd 3
  MountPlan mounts;               // entered after the cgroups, before `cwd` (instance_mounts.h)
  // When enabled (instead of `mounts`): the child starts in new namespaces and enters the
  // box after the cgroups (sandbox.h); its root is assembled on `box_root`, an empty folder.
  SandboxPlan sandbox;
  std::string box_root;
};

struct SpawnedProcess {
  pid_t pid = -1;       // also the process group id
  UniqueFd stdout_fd;   // read ends, non-blocking
  UniqueFd stderr_fd;
  UniqueFd pidfd;       // readable once the process exits; invalid on kernels without pidfd
};

Result<SpawnedProcess> spawn_process(const ProcessSpec& spec);

// Makes <root>/<id>/ and returns its path. With `code_dir`: a private copy of it (never
// hard links, which would let the instance change the stored package) and an empty tmp/
// folder. Without (""): an empty folder, the mount point of the code (instance_mounts.h).
Result<std::string> make_workdir(const std::string& root, const std::string& id,
                                 const std::string& code_dir);
void remove_workdir(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
Result<int> pick_free_port();

// True when something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

}  // namespace kumo::executor
