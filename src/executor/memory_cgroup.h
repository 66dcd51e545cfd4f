// MemoryCgroup: one memory cgroup per instance, the enforcement of `memory:`.
//
// Supports cgroup v2 (memory.max, memory.swap.max = 0, OOM kills counted in memory.events;
// the same cgroup also carries the instance's pids.max when asked, see pids_cgroup.h, and its
// cpu.max and cgroup.freeze, see cpu_cgroup.h and freezer_cgroup.h) and v1
// (memory.limit_in_bytes, memory.memsw.limit_in_bytes when swap accounting exists,
// OOM kills in memory.oom_control or, on old kernels, memory.failcnt). The folder is
// <root>/<instance id>; the destructor kills what is left in it and removes it.
// Owned by one instance; oom_killed()/pids() may be called from any thread (they only read
// files).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace kumo::executor {

enum class CgroupVersion { kV1, kV2 };

// Where kumo's cgroups go: "<mount>/kumo" for the detected hierarchy (v2 when
// /sys/fs/cgroup/cgroup.controllers exists, else v1's /sys/fs/cgroup/memory).
std::string default_cgroup_root();

// Creates `root` (and, on v2, enables the memory controller for its children, at each level
// from the hierarchy's top down to `root`) and checks
// that a child cgroup can be made there. kUnavailable when not (no permission, no
// controller): the caller then falls back to RLIMIT_AS. On v2 it also tries to enable the
// pids and cpu controllers; v2_controller_enabled() says whether that worked.
Result<CgroupVersion> prepare_cgroup_root(const std::string& root);

// True when the children of the v2 cgroup `root` get pids.* files.
bool v2_pids_enabled(const std::string& root);
// True when the children of the v2 cgroup `root` get the files of `controller` ("cpu").
bool v2_controller_enabled(const std::string& root, const std::string& controller);

// Helpers shared with the other cgroups. read_cgroup_file: the whole file, "" when it cannot
// be read. write_cgroup_file: false when the file cannot be written
// (absent, no permission, value refused). remove_cgroup: kills what is left in the cgroup
// folder `dir` (stragglers that left the process group with setsid are still in it), then
// removes it; gives up after ~200 ms.
std::string read_cgroup_file(const std::string& path);
bool write_cgroup_file(const std::string& path, const std::string& value);
// Makes the cgroup folder <root>/<name> and returns its path.
Result<std::string> make_cgroup_dir(const std::string& root, const std::string& name);
std::vector<pid_t> cgroup_pids(const std::string& dir);
void remove_cgroup(const std::string& dir);
// Kills every process in each child cgroup of `root` and removes those folders (see
// LauncherOptions::group: what an earlier server of the same data directory left when it was
// killed; a process that left its process group and working directory is still in its
// cgroup). Returns the paths still there after ~2 s each.
std::vector<std::string> sweep_cgroups(const std::string& root);

class MemoryCgroup {
 public:
  // max_pids > 0 (v2 only, with v2_pids_enabled(root)) also sets pids.max.
  static Result<std::unique_ptr<MemoryCgroup>> create(const std::string& root,
                                                       CgroupVersion version,
                                                       const std::string& name,
                                                       int64_t limit_bytes,
                                                       int64_t max_pids = 0);
  ~MemoryCgroup();
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  // The file a process writes its pid (or "0") to, to join.
  std::string procs_path() const { return dir_ + "/cgroup.procs"; }
  // The folder; on v2 it also holds the instance's cpu.max and cgroup.freeze.
  const std::string& dir() const { return dir_; }
  // True when the kernel's OOM killer fired inside this cgroup.
  bool oom_killed() const;
  std::vector<pid_t> pids() const;

 private:
  MemoryCgroup(std::string dir, CgroupVersion version) : dir_(std::move(dir)), version_(version) {}
  std::string dir_;
  CgroupVersion version_;
};

}  // namespace kumo::executor
