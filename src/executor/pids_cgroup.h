// PidsCgroup: the cap on the tasks (processes and threads) of one instance, so that a fork
// storm inside a function makes its own fork()/clone() fail with EAGAIN instead of using up
// the machine's pids.
//
// cgroup v1 only: a folder <root>/<instance id> in the pids hierarchy holding pids.max,
// which the child joins before exec next to its memory cgroup. On v2 the limit is the
// pids.max of the instance's one cgroup, written by MemoryCgroup, and this class is unused.
// There is no fallback without cgroups: RLIMIT_NPROC counts per user and does not bind root.
// The destructor kills what is left in the folder and removes it. Owned by one instance.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace kumo::executor {

// "/sys/fs/cgroup/pids/kumo" where a v1 pids hierarchy is mounted there, else empty.
std::string default_pids_cgroup_root();

// Creates `root` inside an existing v1 pids hierarchy (its parent must exist) and checks that
// a child with a pids.max can be made there. kUnavailable when not.
Result<void> prepare_pids_cgroup_root(const std::string& root);

class PidsCgroup {
 public:
  static Result<std::unique_ptr<PidsCgroup>> create(const std::string& root,
                                                     const std::string& name, int64_t max_pids);
  ~PidsCgroup();
  PidsCgroup(const PidsCgroup&) = delete;
  PidsCgroup& operator=(const PidsCgroup&) = delete;

  // The file a process writes its pid (or "0") to, to join.
  std::string procs_path() const { return dir_ + "/cgroup.procs"; }
  const std::string& dir() const { return dir_; }

 private:
  explicit PidsCgroup(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace kumo::executor
