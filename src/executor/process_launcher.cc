#include "executor/process_launcher.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "executor/exec_instance.h"
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
  if (o.use_cgroups) {
    if (o.cgroup_root.empty()) o.cgroup_root = default_cgroup_root();
    auto version = prepare_cgroup_root(o.cgroup_root);
    if (version) {
      launcher->cgroup_version_ = *version;
    } else {
      spdlog::warn("executor: memory cgroups unavailable ({}); limiting address space instead",
                   version.error().message);
    }
    launcher->prepare_pids_limit();
  }
  return launcher;
}

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
    auto ready = prepare_pids_cgroup_root(options_.pids_cgroup_root);
    if (ready) {
      pids_version_ = CgroupVersion::kV1;
      return;
    }
    why = ready.error().message;
  }
  spdlog::warn("executor: pids cgroups unavailable ({}); instances can start any number of "
               "processes",
               why);
}

std::vector<std::string> ProcessLauncher::environment(const LaunchSpec& spec,
                                                      const std::string& id,
                                                      const std::string& workdir) const {
  std::map<std::string, std::string> env;
  const char* path = std::getenv("PATH");
  env["PATH"] = path ? path : "/usr/local/bin:/usr/bin:/bin";
  env["LANG"] = "C.UTF-8";
  env["HOME"] = workdir;
  env["TMPDIR"] = workdir + "/tmp";
  if (!uses_cgroups()) env["MALLOC_ARENA_MAX"] = "2";
  {
    std::lock_guard lock(env_mu_);
    for (const auto& [key, value] : platform_env_) env[key] = value;
  }
  for (const auto& [key, value] : spec.env) env[key] = value;
  std::string version = std::to_string(spec.version);
  std::string memory = std::to_string(spec.memory_mb);
  env["KUMO_FUNCTION_NAME"] = spec.function;
  env["KUMO_FUNCTION_VERSION"] = version;
  env["KUMO_MEMORY_MB"] = memory;
  env["KUMO_INSTANCE_ID"] = id;
  env["KUMO_HANDLER"] = spec.handler;
  env["KUMO_CONCURRENCY"] = std::to_string(spec.concurrency);
  env["AWS_LAMBDA_FUNCTION_NAME"] = spec.function;
  env["AWS_LAMBDA_FUNCTION_VERSION"] = version;
  env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = memory;
  env["LAMBDA_TASK_ROOT"] = workdir;
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

Result<int64_t> ProcessLauncher::make_cgroups(InstanceSetup& setup,
                                              int64_t memory_bytes) const {
  if (pids_version_ == CgroupVersion::kV1) {
    auto pids = PidsCgroup::create(options_.pids_cgroup_root, setup.id, options_.max_pids);
    if (!pids) return pids.error();
    setup.pids_cgroup = std::move(*pids);
  }
  if (!cgroup_version_) return memory_bytes + kRlimitHeadroom;
  int64_t max_pids = pids_version_ == CgroupVersion::kV2 ? options_.max_pids : 0;
  auto group = MemoryCgroup::create(options_.cgroup_root, *cgroup_version_, setup.id,
                                    memory_bytes, max_pids);
  if (!group) return group.error();
  setup.cgroup = std::move(*group);
  return int64_t{0};
}

Result<std::unique_ptr<Instance>> ProcessLauncher::launch(const LaunchSpec& spec,
                                                          InstanceObserver& observer) {
  InstanceSetup setup;
  setup.id = new_short_id();
  setup.spec = spec;
  setup.observer = &observer;
  auto log = LogFile::open(spec.log_path);
  if (!log) return log.error();
  setup.log = std::move(*log);
  auto rlimit = make_cgroups(setup, static_cast<int64_t>(spec.memory_mb) * kMiB);
  if (!rlimit) return rlimit.error();
  auto workdir = make_workdir(spec.instances_root, setup.id, spec.code_dir);
  if (!workdir) return workdir.error();
  setup.workdir = *workdir;
  std::vector<std::string> env = environment(spec, setup.id, setup.workdir);
  Result<std::unique_ptr<Instance>> instance =
      spec.runtime == Runtime::kExec
          ? ExecInstance::launch(std::move(setup), std::move(env), *rlimit)
          : PythonInstance::launch(std::move(setup), options_.python, shim_path_,
                                   std::move(env), *rlimit);
  if (!instance) remove_workdir(*workdir);
  return instance;
}

}  // namespace kumo::executor
