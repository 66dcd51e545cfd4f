// ProcessLauncher: the Launcher that runs each instance as a local child process (python3:
// the embedded kumo shim; exec: any program serving HTTP on $PORT).
//
// Memory is enforced by a memory cgroup per instance when `use_cgroups` and the cgroup root
// is writable, else by RLIMIT_AS = memory + 64 MB (the interpreter's own mappings and thread
// stacks count against an address-space limit, so it needs headroom; glibc's per-thread
// malloc arenas are capped with MALLOC_ARENA_MAX=2 for the same reason). Tasks (processes
// and threads) are capped at `max_pids` per instance by the pids controller (v2: in the
// memory cgroup; v1: a PidsCgroup); without it there is no cap (RLIMIT_NPROC binds no root).
// CPU is capped per instance in proportion to its memory once it is ready (cpu_cgroup.h), and
// an idle instance is frozen (freezer_cgroup.h); without those controllers neither applies.
// python3 functions with `zygote: true` (the default) fork their instances from one template
// per version that ran the init once (zygote.h, docs/zygote.md); the template starts with the
// version's first launch (which, like any launch before the template is ready, runs a fresh
// interpreter) or with start_template(), and lives until release_version() or the
// launcher's end (and while instances forked from it live).
// Owned by the composition root; must outlive its instances. launch() is thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "executor/instance.h"
#include "executor/memory_cgroup.h"
#include "executor/pids_cgroup.h"
#include "executor/seccomp_filter.h"
#include "executor/zygote.h"

namespace kumo::executor {

struct InstanceSetup;

// Who an instance acts as when it calls Kumo, given by the composition root: the executor
// knows nothing of keys. `issue` makes the credential of one new instance (or zygote
// template), which reaches Kumo at `kumo_url`, and returns the variables that carry it
// (added to the instance's environment over the spec's own; empty: none); `release` ends it
// and is called exactly once for every credential issued, when its instance ends for
// whatever reason (exit, crash, kill, stop, a launch that failed). Both must be thread-safe.
struct InstanceCredentials {
  using Env = std::map<std::string, std::string>;
  std::function<Result<Env>(const LaunchSpec& spec, const std::string& instance_id,
                            const std::string& kumo_url)>
      issue;
  std::function<void(const std::string& instance_id)> release;
};

struct LauncherOptions {
  std::string python = "/usr/bin/python3";
  std::string runtime_dir;   // where the runtime shim is written (created if missing)
  bool use_cgroups = true;   // false: RLIMIT_AS only
  std::string cgroup_root;   // empty: default_cgroup_root()
  int64_t max_pids = 256;    // tasks (processes + threads) per instance; 0 = no limit
  std::string pids_cgroup_root;  // v1 only; empty: default_pids_cgroup_root()
  // CPU in proportion to memory, as Lambda allocates it: an instance of `memory` MB gets
  // memory / cpu_mb_per_vcpu of one CPU (at least 5%) once it is ready; its init runs
  // unthrottled. 0 = no CPU quota.
  int64_t cpu_mb_per_vcpu = 1769;
  std::string cpu_cgroup_root;  // v1 only; empty: default_cpu_cgroup_root()
  // An instance with no invocation in flight for this long is frozen until its next one, so
  // that nothing it left running uses CPU. 0 = never freeze.
  std::chrono::milliseconds freeze_after{100};
  std::string freezer_cgroup_root;  // v1 only; empty: default_freezer_cgroup_root()
  // When set, instances' cgroups go in <root>/<group>/ of each cgroup root, a folder that
  // belongs to one data directory (serve() names it after the directory it has locked):
  // create() first kills every process an earlier launcher of the same group left in its
  // cgroups (a server killed with SIGKILL leaves its instances, and their children, running)
  // and removes those folders. Empty: no sweep (the roots may be shared, e.g. by tests).
  std::string group;
  // Each instance in a mount namespace of its own: its code read-only at its task root and
  // a tmpfs of LaunchSpec::ephemeral_mb at /tmp (instance_mounts.h). Where the kernel does
  // not permit that (or false), a private copy of the code and no cap on /tmp.
  bool use_mount_namespaces = true;
  // Each instance in a box (sandbox.h): its own namespaces, a non-root uid, a read-only
  // system, seccomp. Where the machine cannot build it, launches fail with a message that
  // says so (see refusal()). false (--insecure-no-sandbox): the mounts above only.
  bool sandbox = true;
  std::vector<std::string> sandbox_read_only;  // host folders every box sees, read-only
  std::vector<std::string> sandbox_share;      // host folders every box sees, writable
  int max_open_files = 1024;                   // RLIMIT_NOFILE in a box
  InstanceCredentials credentials;             // unset: instances get no credential
};

class ProcessLauncher final : public Launcher {
 public:
  // Writes the shim into runtime_dir (when its content differs) and prepares the cgroup
  // root. Fails only when the shim cannot be written; unusable cgroups fall back to rlimits.
  static Result<std::unique_ptr<ProcessLauncher>> create(LauncherOptions options);
  // Ends the templates and, with a group, removes its (by then empty) cgroup folders.
  ~ProcessLauncher() override;

  Result<std::unique_ptr<Instance>> launch(const LaunchSpec& spec,
                                           InstanceObserver& observer) override;
  void release_version(const std::string& function, int version) override;
  // Starts the version's template now if it has none (an eager start) and waits up to
  // `wait` for it; true when it is ready to fork.
  bool start_template(const LaunchSpec& spec, std::chrono::milliseconds wait);

  bool uses_cgroups() const { return cgroup_version_.has_value(); }
  // True when each instance's tasks are capped at options.max_pids.
  bool limits_pids() const { return pids_version_.has_value(); }
  // True when instances get a CPU quota (options.cpu_mb_per_vcpu).
  bool limits_cpu() const { return cpu_version_.has_value(); }
  // True when idle instances are frozen (options.freeze_after).
  bool freezes_idle() const { return freezer_version_.has_value(); }
  // True when instances get their code read-only and their own /tmp (mount namespaces).
  bool uses_mounts() const { return mounts_; }
  // True when instances run in the box.
  bool sandboxed() const { return seccomp_ != nullptr; }
  // Why launches fail: the box was asked for and cannot be built here; empty otherwise.
  const std::string& refusal() const { return refusal_; }
  // True while an instance or template started from `code_dir` (LaunchSpec::code_dir)
  // lives, so that its code is not collected from under it. Thread-safe.
  bool code_in_use(const std::string& code_dir) const;
  const std::string& shim_path() const { return shim_path_; }
  // Variables every instance started from now on gets, e.g. KUMO_URL once the server
  // listens (a function reaches Kumo's own API through it). Thread-safe.
  void set_platform_env(std::map<std::string, std::string> env) {
    std::lock_guard lock(env_mu_);
    platform_env_ = std::move(env);
  }
  // How a boxed instance without `network` reaches Kumo's API: a socket listening on
  // 127.0.0.1:`port` inside its network namespace, handed to `adopt` (which accepts on it
  // until the handle it returns is released). One per namespace, shared by the instances
  // forked into it. Instances started before this call have none. Thread-safe.
  using AdoptListener = std::function<Result<std::shared_ptr<void>>(int fd)>;
  void set_api_listener(int port, AdoptListener adopt);

 private:
  explicit ProcessLauncher(LauncherOptions options) : options_(std::move(options)) {}
  // The instance's environment; its own credential's variables come from `credential`.
  std::vector<std::string> environment(const LaunchSpec& spec, const std::string& id,
                                       const std::string& workdir,
                                       const InstanceCredentials::Env& credential) const;
  // Where an instance of `spec` reaches Kumo's API ("" before the server listens).
  std::string kumo_url(const LaunchSpec& spec) const;
  // The credential of instance `id` (options.credentials.issue), and the handle that
  // releases it when dropped.
  struct Credential {
    InstanceCredentials::Env env;
    std::shared_ptr<void> hold;
  };
  Result<Credential> issue_credential(const LaunchSpec& spec, const std::string& id) const;
  // Makes the instance's folder under spec.instances_root (a mount point, or a copy).
  Result<std::string> make_instance_dir(const LaunchSpec& spec, const std::string& id) const;
  MountPlan mount_plan(const LaunchSpec& spec, const std::string& workdir) const;
  SandboxPlan sandbox_plan(const LaunchSpec& spec) const;
  void prepare_sandbox();
  // Where the shim and the code are as the instance sees them.
  std::string inner_shim_path() const;
  // The API listener of pid's network namespace (made on first use); null when none.
  std::shared_ptr<void> open_api(pid_t pid);
  std::function<std::shared_ptr<void>(pid_t)> api_opener(const LaunchSpec& spec);
  void prepare_pids_limit();
  void prepare_cpu_limit();
  void prepare_freezer();
  void sweep_group() const;
  // Makes the instance's cgroups; returns the RLIMIT_AS to use instead (0: none).
  Result<int64_t> make_cgroups(InstanceSetup& setup, int64_t memory_bytes) const;
  // Makes the cgroups an instance has and a template does not (CPU quota, freezer).
  Result<void> make_instance_cgroups(InstanceSetup& setup, int64_t memory_mb) const;
  // The version's template, started if needed; null when it cannot be used (the caller
  // starts a fresh interpreter).
  std::shared_ptr<Zygote> zygote_for(const LaunchSpec& spec);
  Result<std::shared_ptr<Zygote>> start_zygote(const LaunchSpec& spec);

  // Live instances and templates per code_dir; shared with the leases, which may outlive
  // the launcher in a template's hands.
  struct CodeLeases {
    std::mutex mu;
    std::map<std::string, int> count;  // Guarded by mu.
  };
  std::shared_ptr<void> lease_code(const std::string& code_dir) const;

  struct ZygoteEntry {
    std::string fingerprint;  // what the template was started with; a change replaces it
    std::shared_ptr<Zygote> zygote;
    bool broken = false;      // died during init: the version uses fresh interpreters
  };

  LauncherOptions options_;
  mutable std::mutex env_mu_;
  std::map<std::string, std::string> platform_env_;  // Guarded by env_mu_.
  std::string shim_path_;
  std::optional<CgroupVersion> cgroup_version_;
  std::optional<CgroupVersion> pids_version_;  // kV2: pids.max in the memory cgroup
  std::optional<CgroupVersion> cpu_version_;   // kV2: cpu.max in the memory cgroup
  std::optional<CgroupVersion> freezer_version_;  // kV2: cgroup.freeze in the memory cgroup
  bool mounts_ = false;
  std::unique_ptr<SeccompFilter> seccomp_;  // set when instances are boxed
  std::string refusal_;
  mutable std::mutex api_mu_;
  int api_port_ = 0;                    // Guarded by api_mu_.
  AdoptListener adopt_;                 // Guarded by api_mu_.
  std::map<std::pair<dev_t, ino_t>, std::weak_ptr<void>> api_listeners_;  // Guarded by api_mu_.
  std::shared_ptr<CodeLeases> code_leases_ = std::make_shared<CodeLeases>();
  std::mutex zygotes_mu_;
  std::map<std::pair<std::string, int>, ZygoteEntry> zygotes_;  // Guarded by zygotes_mu_.
};

}  // namespace kumo::executor
