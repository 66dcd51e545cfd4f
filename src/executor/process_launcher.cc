#include "executor/process_launcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "common/tenant_name.h"
#include "executor/exec_instance.h"
#include "executor/netns.h"
#include "executor/python_instance.h"
#include "runtimes/embedded.h"

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kRlimitHeadroom = 64 * kMiB;

// Writes `content` to `path` unless it already holds exactly that (instances running an
// older copy keep theirs: the new file replaces it atomically).
Result<void> write_if_changed(const fs::path& path, std::string_view content) {
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (in && ss.str() == content) return {};
  }
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp" + new_short_id();
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    return make_error(ErrorCode::kInternal, fmt::format("cannot write {}", tmp.string()));
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot write {}: {}", path.string(), ec.message()));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<ProcessLauncher>> ProcessLauncher::create(LauncherOptions options) {
  std::unique_ptr<ProcessLauncher> launcher(new ProcessLauncher(std::move(options)));
  LauncherOptions& o = launcher->options_;
  if (o.runtime_dir.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "executor: runtime_dir must be set");
  }
  fs::path shim = fs::path(o.runtime_dir) / runtimes::kPythonShimFile;
  if (auto written = write_if_changed(shim, runtimes::python_shim()); !written) {
    return written.error();
  }
  launcher->shim_path_ = shim.string();
  fs::path aws_hook = fs::path(o.runtime_dir) / runtimes::kPythonAwsHookFile;
  if (auto written = write_if_changed(aws_hook, runtimes::python_aws_hook()); !written) {
    return written.error();
  }
  if (o.use_cgroups) {
    if (o.cgroup_root.empty()) o.cgroup_root = default_cgroup_root();
    if (!o.group.empty()) o.cgroup_root += "/" + o.group;
    auto version = prepare_cgroup_root(o.cgroup_root);
    if (version) {
      launcher->cgroup_version_ = *version;
    } else {
      spdlog::warn("executor: memory cgroups unavailable ({}); limiting address space instead",
                   version.error().message);
    }
    launcher->prepare_pids_limit();
    launcher->prepare_cpu_limit();
    launcher->prepare_freezer();
    launcher->sweep_group();
  }
  launcher->prepare_sandbox();
  if (o.use_mount_namespaces && !o.sandbox) {
    launcher->mounts_ = mount_namespaces_usable();
    if (!launcher->mounts_) {
      spdlog::warn("executor: mount namespaces unavailable; instances get a private copy of "
                   "their code, and their /tmp is not capped");
    }
  }
  return launcher;
}

void ProcessLauncher::prepare_sandbox() {
  if (!options_.sandbox) {
    spdlog::warn("executor: functions run WITHOUT a sandbox (--insecure-no-sandbox): their code "
                 "runs as this server's user, sees the host's files and processes and reaches "
                 "every local service; never use it for code you do not trust");
    return;
  }
  std::string why = sandbox_unavailable_reason();
  if (why.empty()) {
    auto filter = SeccompFilter::build();
    if (filter) {
      seccomp_ = std::make_unique<SeccompFilter>(std::move(*filter));
      return;
    }
    why = filter.error().message;
  }
  refusal_ = fmt::format("this machine cannot build the sandbox functions run in ({}); start "
                         "`kumo serve --insecure-no-sandbox` to run them without one",
                         why);
  spdlog::error("executor: {}", refusal_);
}

namespace {

// The NVIDIA driver's device files (/dev/nvidia0, nvidiactl, nvidia-uvm, ...): an instance
// that holds GPUs (CUDA_VISIBLE_DEVICES, from the scheduler) sees them in its box.
std::vector<std::string> gpu_devices() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev", ec)) {
    if (entry.path().filename().string().starts_with("nvidia")) out.push_back(entry.path());
  }
  return out;
}

}  // namespace

SandboxPlan ProcessLauncher::sandbox_plan(const LaunchSpec& spec) const {
  SandboxPlan plan;
  plan.enabled = sandboxed();
  if (!plan.enabled) return plan;
  plan.network = spec.network;
  plan.uid = sandbox_uid(spec.function);
  plan.code_dir = spec.code_dir;
  plan.runtime_dir = options_.runtime_dir;
  plan.read_only = options_.sandbox_read_only;
  plan.writable = options_.sandbox_share;
  plan.tmp_mb = spec.ephemeral_mb;
  if (spec.env.contains("CUDA_VISIBLE_DEVICES")) plan.devices = gpu_devices();
  plan.max_open_files = options_.max_open_files;
  plan.seccomp = seccomp_.get();
  return plan;
}

std::string ProcessLauncher::inner_shim_path() const {
  if (!sandboxed()) return shim_path_;
  return std::string(kRuntimeRoot) + "/" + fs::path(shim_path_).filename().string();
}

void ProcessLauncher::set_api_listener(int port, AdoptListener adopt) {
  std::lock_guard lock(api_mu_);
  api_port_ = port;
  adopt_ = std::move(adopt);
}

std::function<std::shared_ptr<void>(pid_t)> ProcessLauncher::api_opener(const LaunchSpec& spec) {
  if (!sandboxed() || spec.network) return nullptr;
  return [this](pid_t pid) { return open_api(pid); };
}

std::shared_ptr<void> ProcessLauncher::open_api(pid_t pid) {
  struct stat st {};
  if (::stat(fmt::format("/proc/{}/ns/net", pid).c_str(), &st) != 0) return nullptr;
  std::lock_guard lock(api_mu_);
  if (!adopt_) return nullptr;
  std::erase_if(api_listeners_, [](const auto& entry) { return entry.second.expired(); });
  std::weak_ptr<void>& known = api_listeners_[{st.st_dev, st.st_ino}];
  if (auto handle = known.lock()) return handle;
  auto fd = listen_in_netns(pid, api_port_);
  if (!fd) {
    spdlog::warn("executor: no path to Kumo's API in the box of process {}: {}", pid,
                 fd.error().message);
    return nullptr;
  }
  auto handle = adopt_(fd->release());
  if (!handle) {
    spdlog::warn("executor: no path to Kumo's API in a box: {}", handle.error().message);
    return nullptr;
  }
  known = *handle;
  return *handle;
}

namespace {

class CodeLease {
 public:
  CodeLease(std::shared_ptr<void> leases, std::mutex& mu, std::map<std::string, int>& count,
            std::string code_dir)
      : leases_(std::move(leases)), mu_(mu), count_(count), code_dir_(std::move(code_dir)) {
    std::lock_guard lock(mu_);
    ++count_[code_dir_];
  }
  ~CodeLease() {
    std::lock_guard lock(mu_);
    if (--count_[code_dir_] == 0) count_.erase(code_dir_);
  }
  CodeLease(const CodeLease&) = delete;
  CodeLease& operator=(const CodeLease&) = delete;

 private:
  std::shared_ptr<void> leases_;  // keeps mu_ and count_ alive
  std::mutex& mu_;
  std::map<std::string, int>& count_;
  std::string code_dir_;
};

}  // namespace

std::shared_ptr<void> ProcessLauncher::lease_code(const std::string& code_dir) const {
  return std::make_shared<CodeLease>(code_leases_, code_leases_->mu, code_leases_->count,
                                     code_dir);
}

bool ProcessLauncher::code_in_use(const std::string& code_dir) const {
  std::lock_guard lock(code_leases_->mu);
  return code_leases_->count.contains(code_dir);
}

Result<std::string> ProcessLauncher::make_instance_dir(const LaunchSpec& spec,
                                                       const std::string& id) const {
  return make_workdir(spec.instances_root, id, mounts_ || sandboxed() ? "" : spec.code_dir);
}

MountPlan ProcessLauncher::mount_plan(const LaunchSpec& spec, const std::string& workdir) const {
  MountPlan plan;
  plan.enabled = mounts_;
  if (!mounts_) return plan;
  plan.read_only = {{spec.code_dir, workdir}, {options_.runtime_dir, options_.runtime_dir}};
  plan.tmp_mb = spec.ephemeral_mb;
  return plan;
}

ProcessLauncher::~ProcessLauncher() {
  {
    std::lock_guard lock(zygotes_mu_);
    zygotes_.clear();
  }
  if (options_.group.empty()) return;
  // Fails (harmlessly) while something still runs in them; the next start sweeps those.
  if (cgroup_version_) ::rmdir(options_.cgroup_root.c_str());
  if (pids_version_ == CgroupVersion::kV1) ::rmdir(options_.pids_cgroup_root.c_str());
  if (cpu_version_ == CgroupVersion::kV1) ::rmdir(options_.cpu_cgroup_root.c_str());
  if (freezer_version_ == CgroupVersion::kV1) ::rmdir(options_.freezer_cgroup_root.c_str());
}

void ProcessLauncher::sweep_group() const {
  if (options_.group.empty()) return;
  std::vector<std::string> roots;
  if (freezer_version_ == CgroupVersion::kV1) {
    // First, and thawed: under v1 a frozen process does not die until thawed.
    thaw_cgroups(options_.freezer_cgroup_root);
    roots.push_back(options_.freezer_cgroup_root);
  }
  if (cgroup_version_) roots.push_back(options_.cgroup_root);
  if (pids_version_ == CgroupVersion::kV1) roots.push_back(options_.pids_cgroup_root);
  if (cpu_version_ == CgroupVersion::kV1) roots.push_back(options_.cpu_cgroup_root);
  for (const std::string& root : roots) {
    for (const std::string& left : sweep_cgroups(root)) {
      spdlog::warn("executor: cannot remove the stale cgroup {}", left);
    }
  }
}

namespace {

// Prepares `root` of a v1 hierarchy and, with a group, its folder <root>/<group>; returns
// the folder instances go in.
Result<std::string> prepare_v1_root(std::string root, const std::string& group,
                                    Result<void> (*prepare)(const std::string&)) {
  auto ready = prepare(root);
  if (ready && !group.empty()) {
    root += "/" + group;
    ready = prepare(root);
  }
  if (!ready) return ready.error();
  return root;
}

}  // namespace

void ProcessLauncher::prepare_pids_limit() {
  if (options_.max_pids <= 0) return;
  std::string why;
  if (cgroup_version_ == CgroupVersion::kV2) {
    if (v2_pids_enabled(options_.cgroup_root)) {
      pids_version_ = CgroupVersion::kV2;
      return;
    }
    why = "the pids controller cannot be enabled";
  } else {
    if (options_.pids_cgroup_root.empty()) options_.pids_cgroup_root = default_pids_cgroup_root();
    auto root = prepare_v1_root(options_.pids_cgroup_root, options_.group,
                                prepare_pids_cgroup_root);
    if (root) {
      options_.pids_cgroup_root = *root;
      pids_version_ = CgroupVersion::kV1;
      return;
    }
    why = root.error().message;
  }
  spdlog::warn("executor: pids cgroups unavailable ({}); instances can start any number of "
               "processes",
               why);
}

void ProcessLauncher::prepare_cpu_limit() {
  if (options_.cpu_mb_per_vcpu <= 0) return;
  std::string why;
  if (cgroup_version_ == CgroupVersion::kV2) {
    if (v2_controller_enabled(options_.cgroup_root, "cpu")) {
      cpu_version_ = CgroupVersion::kV2;
      return;
    }
    why = "the cpu controller cannot be enabled";
  } else {
    if (options_.cpu_cgroup_root.empty()) options_.cpu_cgroup_root = default_cpu_cgroup_root();
    auto root = prepare_v1_root(options_.cpu_cgroup_root, options_.group,
                                prepare_cpu_cgroup_root);
    if (root) {
      options_.cpu_cgroup_root = *root;
      cpu_version_ = CgroupVersion::kV1;
      return;
    }
    why = root.error().message;
  }
  spdlog::warn("executor: cpu cgroups unavailable ({}); instances' CPU is not capped", why);
}

void ProcessLauncher::prepare_freezer() {
  if (options_.freeze_after.count() <= 0) return;
  std::string why;
  if (cgroup_version_ == CgroupVersion::kV2) {
    if (v2_freezer_usable(options_.cgroup_root)) {
      freezer_version_ = CgroupVersion::kV2;
      return;
    }
    why = "no cgroup.freeze (Linux 5.2 or later)";
  } else {
    if (options_.freezer_cgroup_root.empty()) {
      options_.freezer_cgroup_root = default_freezer_cgroup_root();
    }
    auto root = prepare_v1_root(options_.freezer_cgroup_root, options_.group,
                                prepare_freezer_cgroup_root);
    if (root) {
      options_.freezer_cgroup_root = *root;
      freezer_version_ = CgroupVersion::kV1;
      return;
    }
    why = root.error().message;
  }
  spdlog::warn("executor: freezer cgroups unavailable ({}); idle instances are not frozen",
               why);
}

std::string ProcessLauncher::kumo_url(const LaunchSpec& spec) const {
  if (sandboxed() && !spec.network) {  // the API's socket in the box is on its loopback
    std::lock_guard lock(api_mu_);
    if (api_port_ > 0) return fmt::format("http://127.0.0.1:{}", api_port_);
  }
  std::lock_guard lock(env_mu_);
  auto it = platform_env_.find("KUMO_URL");
  return it == platform_env_.end() ? std::string() : it->second;
}

Result<ProcessLauncher::Credential> ProcessLauncher::issue_credential(const LaunchSpec& spec,
                                                                      const std::string& id) const {
  const InstanceCredentials& credentials = options_.credentials;
  if (!credentials.issue) return Credential{};
  auto env = credentials.issue(spec, id, kumo_url(spec));
  if (!env) return env.error();
  // Released when the last holder (the instance's setup, or a template's config) lets go.
  std::shared_ptr<void> hold(nullptr, [release = credentials.release, id](void*) {
    if (release) release(id);
  });
  return Credential{std::move(*env), std::move(hold)};
}

std::vector<std::string> ProcessLauncher::environment(
    const LaunchSpec& spec, const std::string& id, const std::string& workdir,
    const InstanceCredentials::Env& credential) const {
  std::map<std::string, std::string> env;
  const char* path = std::getenv("PATH");
  env["PATH"] = path ? path : "/usr/local/bin:/usr/bin:/bin";
  env["LANG"] = "C.UTF-8";
  env["HOME"] = workdir;
  env["TMPDIR"] = mounts_ || sandboxed() ? "/tmp" : workdir + "/tmp";
  if (!uses_cgroups()) env["MALLOC_ARENA_MAX"] = "2";
  {
    std::lock_guard lock(env_mu_);
    for (const auto& [key, value] : platform_env_) env[key] = value;
  }
  if (std::string url = kumo_url(spec); !url.empty()) env["KUMO_URL"] = url;
  for (const auto& [key, value] : spec.env) env[key] = value;
  for (const auto& [key, value] : credential) env[key] = value;
  std::string version = std::to_string(spec.version);
  std::string memory = std::to_string(spec.memory_mb);
  // A function knows itself by its name in its tenant, never the tenant's prefix.
  std::string name(local_part(spec.function));
  env["KUMO_FUNCTION_NAME"] = name;
  env["KUMO_FUNCTION_VERSION"] = version;
  env["KUMO_MEMORY_MB"] = memory;
  env["KUMO_INSTANCE_ID"] = id;
  env["KUMO_HANDLER"] = spec.handler;
  env["KUMO_CONCURRENCY"] = std::to_string(spec.concurrency);
  env["AWS_LAMBDA_FUNCTION_NAME"] = name;
  env["AWS_LAMBDA_FUNCTION_VERSION"] = version;
  env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = memory;
  env["LAMBDA_TASK_ROOT"] = workdir;
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

namespace {

Result<int64_t> create_cgroups(const LauncherOptions& options,
                               std::optional<CgroupVersion> cgroup_version,
                               std::optional<CgroupVersion> pids_version, InstanceSetup& setup,
                               int64_t memory_bytes) {
  if (pids_version == CgroupVersion::kV1) {
    auto pids = PidsCgroup::create(options.pids_cgroup_root, setup.id, options.max_pids);
    if (!pids) return pids.error();
    setup.pids_cgroup = std::move(*pids);
  }
  if (!cgroup_version) return memory_bytes + kRlimitHeadroom;
  int64_t max_pids = pids_version == CgroupVersion::kV2 ? options.max_pids : 0;
  auto group = MemoryCgroup::create(options.cgroup_root, *cgroup_version, setup.id,
                                    memory_bytes, max_pids);
  if (!group) return group.error();
  setup.cgroup = std::move(*group);
  return int64_t{0};
}

// The cgroups an instance has and its template does not: its CPU quota (applied once it is
// ready) and its freezer. On v2 both are files of its memory cgroup.
Result<void> create_cpu_and_freezer(const LauncherOptions& options,
                                    std::optional<CgroupVersion> cpu_version,
                                    std::optional<CgroupVersion> freezer_version,
                                    InstanceSetup& setup, int64_t memory_mb) {
  if (cpu_version) {
    int64_t quota = cpu_quota_us(memory_mb, options.cpu_mb_per_vcpu);
    if (cpu_version == CgroupVersion::kV1) {
      auto cpu = CpuCgroup::create(options.cpu_cgroup_root, setup.id, quota);
      if (!cpu) return cpu.error();
      setup.cpu_cgroup = std::move(*cpu);
    } else if (setup.cgroup) {
      setup.cpu_cgroup = CpuCgroup::in_memory_cgroup(setup.cgroup->dir(), quota);
    }
  }
  if (freezer_version == CgroupVersion::kV1) {
    auto freezer = FreezerCgroup::create(options.freezer_cgroup_root, setup.id);
    if (!freezer) return freezer.error();
    setup.freezer = std::move(*freezer);
  } else if (freezer_version && setup.cgroup) {
    setup.freezer = FreezerCgroup::in_memory_cgroup(setup.cgroup->dir());
  }
  return {};
}

bool join_cgroups(const std::vector<std::string>& procs_paths, pid_t pid) {
  std::string text = std::to_string(pid);
  for (const std::string& procs : procs_paths) {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    bool joined = fd >= 0 && ::write(fd, text.data(), text.size()) ==
                                 static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    if (!joined) return false;
  }
  return true;
}

}  // namespace

Result<int64_t> ProcessLauncher::make_cgroups(InstanceSetup& setup,
                                              int64_t memory_bytes) const {
  return create_cgroups(options_, cgroup_version_, pids_version_, setup, memory_bytes);
}

Result<void> ProcessLauncher::make_instance_cgroups(InstanceSetup& setup,
                                                    int64_t memory_mb) const {
  return create_cpu_and_freezer(options_, cpu_version_, freezer_version_, setup, memory_mb);
}

Result<std::unique_ptr<Instance>> ProcessLauncher::launch(const LaunchSpec& spec,
                                                          InstanceObserver& observer) {
  if (!refusal_.empty()) return make_error(ErrorCode::kUnavailable, refusal_);
  InstanceSetup setup;
  setup.id = new_short_id();
  setup.spec = spec;
  setup.observer = &observer;
  setup.freeze_after = options_.freeze_after;
  auto log = LogFile::open(spec.log_path);
  if (!log) return log.error();
  setup.log = std::move(*log);
  // While the template still runs its init, a fresh interpreter is no slower than waiting
  // for it and then forking, so launches then go fresh (the template starts beside).
  std::shared_ptr<Zygote> zygote;
  if (spec.runtime == Runtime::kPython3 && spec.zygote) zygote = zygote_for(spec);
  if (zygote && zygote->state() != Zygote::State::kReady) zygote.reset();
  std::optional<PreparedSpare> spare;
  if (zygote) spare = zygote->take_prepared();
  Result<int64_t> rlimit = int64_t{0};
  if (spare) {
    setup.cgroup = std::move(spare->cgroup);
    setup.pids_cgroup = std::move(spare->pids_cgroup);
    setup.cpu_cgroup = std::move(spare->cpu_cgroup);
    setup.freezer = std::move(spare->freezer);
    if (!setup.cgroup) rlimit = static_cast<int64_t>(spec.memory_mb) * kMiB + kRlimitHeadroom;
  } else {
    rlimit = make_cgroups(setup, static_cast<int64_t>(spec.memory_mb) * kMiB);
    if (auto made = rlimit ? make_instance_cgroups(setup, spec.memory_mb) : Result<void>{};
        !made) {
      return made.error();
    }
  }
  if (!rlimit) return rlimit.error();
  auto workdir = make_instance_dir(spec, setup.id);
  if (!workdir) return workdir.error();
  setup.workdir = *workdir;
  setup.mounts = mount_plan(spec, setup.workdir);
  setup.sandbox = sandbox_plan(spec);
  setup.open_api = api_opener(spec);
  setup.code_lease = lease_code(spec.code_dir);
  auto credential = issue_credential(spec, setup.id);
  if (!credential) {
    remove_workdir(*workdir);
    return credential.error();
  }
  setup.credential = std::move(credential->hold);
  // A forked instance lives in its template's namespace, where the code is at its root.
  std::string task_root = zygote && !zygote->task_root().empty() ? zygote->task_root()
                          : sandboxed()                           ? kTaskRoot
                                                                  : setup.workdir;
  std::vector<std::string> env = environment(spec, setup.id, task_root, credential->env);
  if (zygote) {
    return PythonInstance::launch_forked(std::move(setup), std::move(zygote), options_.python,
                                         inner_shim_path(), std::move(env), *rlimit,
                                         spare ? spare->pid : 0);
  }
  Result<std::unique_ptr<Instance>> instance =
      spec.runtime == Runtime::kExec
          ? ExecInstance::launch(std::move(setup), std::move(env), *rlimit)
          : PythonInstance::launch(std::move(setup), options_.python, inner_shim_path(),
                                   std::move(env), *rlimit);
  if (!instance) remove_workdir(*workdir);
  return instance;
}

namespace {

// What a template depends on besides the version: the same version relaunched with other
// settings (a spec edit that keeps the version) gets a new template.
std::string zygote_fingerprint(const LaunchSpec& spec) {
  std::string out = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", spec.code_dir, spec.handler,
                                spec.memory_mb, spec.ephemeral_mb, spec.timeout.count(),
                                spec.network);
  for (const auto& [key, value] : spec.env) out += fmt::format("\n{}={}", key, value);
  return out;
}

// Init runs single-threaded: thread pools do not survive fork (a child of a template whose
// OpenMP pool had two threads hangs in its first parallel region). Each instance gets the
// spec's values back in its own environment, and its thread count (KUMO_THREADS: the spec's
// OMP_NUM_THREADS, else every CPU) after the fork.
std::vector<std::string> single_threaded(std::vector<std::string> env) {
  std::vector<std::string> out;
  for (std::string& entry : env) {
    if (entry.starts_with("OMP_NUM_THREADS=")) {
      out.push_back("KUMO_THREADS=" + entry.substr(entry.find('=') + 1));
    } else if (!entry.starts_with("MKL_NUM_THREADS=") &&
               !entry.starts_with("OPENBLAS_NUM_THREADS=")) {
      out.push_back(std::move(entry));
    }
  }
  for (const char* var : {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    out.push_back(std::string(var) + "=1");
  }
  out.emplace_back("KUMO_ZYGOTE=1");
  return out;
}

}  // namespace

std::shared_ptr<Zygote> ProcessLauncher::zygote_for(const LaunchSpec& spec) {
  std::lock_guard lock(zygotes_mu_);
  ZygoteEntry& entry = zygotes_[{spec.function, spec.version}];
  std::string fingerprint = zygote_fingerprint(spec);
  if (entry.fingerprint != fingerprint) entry = ZygoteEntry{fingerprint, nullptr, false};
  if (entry.broken) return nullptr;
  if (entry.zygote) {
    Zygote::State state = entry.zygote->state();
    if (state == Zygote::State::kStarting || state == Zygote::State::kReady) {
      return entry.zygote;
    }
    if (state == Zygote::State::kGone && !entry.zygote->was_ready()) {
      // It died during init without an init error (a crash, a kill for memory): forking
      // is not safe for this function, or init cannot succeed; fresh interpreters tell.
      spdlog::warn("executor: the zygote of {} v{} died during init; using fresh interpreters",
                   spec.function, spec.version);
      entry.broken = true;
      entry.zygote.reset();
      return nullptr;
    }
  }
  // None yet, or the last one failed its init (retried, as a fresh instance would be) or
  // died after it.
  auto zygote = start_zygote(spec);
  if (!zygote) {
    spdlog::warn("executor: no zygote for {} v{}: {}", spec.function, spec.version,
                 zygote.error().message);
    return nullptr;
  }
  entry.zygote = std::move(*zygote);
  return entry.zygote;
}

Result<std::shared_ptr<Zygote>> ProcessLauncher::start_zygote(const LaunchSpec& spec) {
  InstanceSetup setup;
  setup.id = "zygote-" + new_short_id();
  auto rlimit = make_cgroups(setup, static_cast<int64_t>(spec.memory_mb) * kMiB);
  if (!rlimit) return rlimit.error();
  auto workdir = make_instance_dir(spec, setup.id);
  if (!workdir) return workdir.error();
  // The template's own identity, for init code that calls Kumo; each forked instance
  // gets another (its environment replaces the template's when it is forked).
  auto credential = issue_credential(spec, setup.id);
  if (!credential) {
    remove_workdir(*workdir);
    return credential.error();
  }
  ZygoteConfig config;
  config.credential = std::move(credential->hold);
  config.mounts = mount_plan(spec, *workdir);
  config.sandbox = sandbox_plan(spec);
  config.open_api = api_opener(spec);
  config.code_lease = lease_code(spec.code_dir);
  config.python = options_.python;
  config.shim_path = inner_shim_path();
  config.env = single_threaded(environment(
      spec, setup.id, sandboxed() ? std::string(kTaskRoot) : *workdir, credential->env));
  // Each forked instance mounts its own /tmp of this size (the shim's template mode), as
  // Lambda's /tmp belongs to one execution environment. In a box a forked instance cannot
  // mount: it shares the template's /tmp, as it shares its namespaces.
  if (mounts_) config.env.push_back(fmt::format("KUMO_TMP_MB={}", spec.ephemeral_mb));
  config.workdir = *workdir;
  config.log_path = spec.log_path;
  config.rlimit_as_bytes = *rlimit;
  config.cgroup = std::move(setup.cgroup);
  config.pids_cgroup = std::move(setup.pids_cgroup);
  config.init_timeout = init_timeout(spec);
  if (uses_cgroups() || limits_pids() || limits_cpu() || freezes_idle()) {
    // Copies, not `this`: the template may outlive the launcher in an instance's hands.
    config.prepare_spare = [options = options_, cgroups = cgroup_version_,
                            pids = pids_version_, cpu = cpu_version_,
                            freezer = freezer_version_, memory_mb = int64_t{spec.memory_mb}](
                               pid_t pid) -> Result<PreparedSpare> {
      InstanceSetup spare_setup;
      spare_setup.id = new_short_id();
      auto made = create_cgroups(options, cgroups, pids, spare_setup, memory_mb * kMiB);
      if (!made) return made.error();
      auto more = create_cpu_and_freezer(options, cpu, freezer, spare_setup, memory_mb);
      if (!more) return more.error();
      if (!join_cgroups(spare_setup.cgroup_procs(), pid)) {
        return make_error(ErrorCode::kUnavailable, "cannot move the spare into its cgroups");
      }
      // Init ran in the template, which stays unthrottled: the instance is throttled from
      // its start. It is never frozen while it waits to be taken.
      if (spare_setup.cpu_cgroup) spare_setup.cpu_cgroup->limit();
      return PreparedSpare{pid, std::move(spare_setup.cgroup),
                           std::move(spare_setup.pids_cgroup),
                           std::move(spare_setup.cpu_cgroup), std::move(spare_setup.freezer)};
    };
  }
  auto zygote = Zygote::start(std::move(config));
  if (!zygote) remove_workdir(*workdir);
  return zygote;
}

bool ProcessLauncher::start_template(const LaunchSpec& spec, std::chrono::milliseconds wait) {
  std::shared_ptr<Zygote> zygote = zygote_for(spec);
  if (!zygote) return false;
  auto until = std::chrono::steady_clock::now() + wait;
  return zygote->wait([&] { return std::chrono::steady_clock::now() >= until; }) ==
         Zygote::State::kReady;
}

void ProcessLauncher::release_version(const std::string& function, int version) {
  ZygoteEntry gone;
  {
    std::lock_guard lock(zygotes_mu_);
    auto it = zygotes_.find({function, version});
    if (it == zygotes_.end()) return;
    gone = std::move(it->second);
    zygotes_.erase(it);
  }
  // `gone` ends here, outside the lock: the template exits once no instance needs it.
}

}  // namespace kumo::executor
