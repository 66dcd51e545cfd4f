// ProcessLauncher: the Launcher that runs each instance as a local child process (python3:
// the embedded kumo shim; exec: any program serving HTTP on $PORT).
//
// Memory is enforced by a memory cgroup per instance when `use_cgroups` and the cgroup root
// is writable, else by RLIMIT_AS = memory + 64 MB (the interpreter's own mappings and thread
// stacks count against an address-space limit, so it needs headroom; glibc's per-thread
// malloc arenas are capped with MALLOC_ARENA_MAX=2 for the same reason).
// Owned by the composition root; must outlive its instances. launch() is thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/instance.h"
#include "executor/memory_cgroup.h"

namespace kumo::executor {

struct LauncherOptions {
  std::string python = "/usr/bin/python3";
  std::string runtime_dir;   // where the runtime shim is written (created if missing)
  bool use_cgroups = true;   // false: RLIMIT_AS only
  std::string cgroup_root;   // empty: default_cgroup_root()
};

class ProcessLauncher final : public Launcher {
 public:
  // Writes the shim into runtime_dir (when its content differs) and prepares the cgroup
  // root. Fails only when the shim cannot be written; unusable cgroups fall back to rlimits.
  static Result<std::unique_ptr<ProcessLauncher>> create(LauncherOptions options);

  Result<std::unique_ptr<Instance>> launch(const LaunchSpec& spec,
                                           InstanceObserver& observer) override;

  bool uses_cgroups() const { return cgroup_version_.has_value(); }
  const std::string& shim_path() const { return shim_path_; }

 private:
  explicit ProcessLauncher(LauncherOptions options) : options_(std::move(options)) {}
  std::vector<std::string> environment(const LaunchSpec& spec, const std::string& id,
                                       const std::string& workdir) const;

  LauncherOptions options_;
  std::string shim_path_;
  std::optional<CgroupVersion> cgroup_version_;
};

}  // namespace kumo::executor
