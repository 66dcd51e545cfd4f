// FreezerCgroup: stops every process of an idle instance, so that nothing it left running
// (a thread, a child started by an invocation) uses CPU between invocations, and lets them go
// on the next one. ProcessInstance freezes an instance once its in-flight table has been
// empty for LauncherOptions::freeze_after and thaws it before it sends the next invocation
// (and before it kills it: under v1 a frozen process does not die until thawed).
//
// cgroup v1: a folder <root>/<instance id> in the freezer hierarchy (freezer.state FROZEN or
// THAWED), which the child joins before exec next to its memory cgroup; the destructor thaws
// it, kills what is left in it and removes it. cgroup v2: cgroup.freeze of the instance's
// memory cgroup, whose folder is the MemoryCgroup's. Owned by one instance; the caller
// serialises freeze() and thaw().
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace kumo::executor {

// "/sys/fs/cgroup/freezer/kumo" where a v1 freezer hierarchy is mounted there, else empty.
std::string default_freezer_cgroup_root();

// Creates `root` inside an existing v1 freezer hierarchy (its parent must exist) and checks
// that a child can be made and frozen there. kUnavailable when not.
Result<void> prepare_freezer_cgroup_root(const std::string& root);

// True when the children of the v2 cgroup `root` can be frozen (cgroup.freeze, Linux 5.2).
bool v2_freezer_usable(const std::string& root);

// Thaws every child cgroup of the v1 freezer `root`, so that what is in them can be killed
// (a server killed while instances were frozen leaves them frozen).
void thaw_cgroups(const std::string& root);

class FreezerCgroup {
 public:
  // v1: makes <root>/<name>.
  static Result<std::unique_ptr<FreezerCgroup>> create(const std::string& root,
                                                       const std::string& name);
  // v2: freezes through cgroup.freeze of the memory cgroup folder `dir`.
  static std::unique_ptr<FreezerCgroup> in_memory_cgroup(std::string dir);
  ~FreezerCgroup();
  FreezerCgroup(const FreezerCgroup&) = delete;
  FreezerCgroup& operator=(const FreezerCgroup&) = delete;

  // The file a process writes its pid to, to join; empty on v2 (nothing to join).
  std::string procs_path() const;
  const std::string& dir() const { return dir_; }
  // Asks the kernel to stop every process in the cgroup; returns without waiting for it.
  // False when the state cannot be written.
  bool freeze();
  // Lets them run again; they do at once.
  bool thaw();
  // True once every process in the cgroup is stopped.
  bool frozen() const;

 private:
  FreezerCgroup(std::string dir, bool v1) : dir_(std::move(dir)), v1_(v1) {}
  std::string dir_;
  bool v1_;
};

}  // namespace kumo::executor
