#include "executor/cpu_cgroup.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "executor/memory_cgroup.h"

namespace kumo::executor {

namespace fs = std::filesystem;

int64_t cpu_quota_us(int64_t memory_mb, int64_t mb_per_vcpu) {
  return std::max(kMinCpuQuotaUs, kCpuPeriodUs * memory_mb / mb_per_vcpu);
}

std::string default_cpu_cgroup_root() {
  std::error_code ec;
  return fs::exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", ec) ? "/sys/fs/cgroup/cpu/kumo" : "";
}

Result<void> prepare_cpu_cgroup_root(const std::string& root) {
  if (root.empty()) {
    return make_error(ErrorCode::kUnavailable, "no cgroup v1 cpu hierarchy is mounted");
  }
  // create_directory, not create_directories: a missing parent means no cpu hierarchy.
  std::error_code ec;
  fs::create_directory(root, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot create cgroup {}: {}", root, ec.message()));
  }
  auto probe = CpuCgroup::create(root, "probe-" + std::to_string(getpid()), kMinCpuQuotaUs);
  if (!probe) return probe.error();
  if (!(*probe)->limit()) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot set a CPU quota in cgroup {}", root));
  }
  return {};
}

Result<std::unique_ptr<CpuCgroup>> CpuCgroup::create(const std::string& root,
                                                     const std::string& name, int64_t quota_us) {
  auto made = make_cgroup_dir(root, name);
  if (!made) return made.error();
  std::unique_ptr<CpuCgroup> group(new CpuCgroup(*made, /*v1=*/true, quota_us));
  if (!write_cgroup_file(*made + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs))) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot set the CPU period of cgroup {}", *made));
  }
  return group;
}

std::unique_ptr<CpuCgroup> CpuCgroup::in_memory_cgroup(std::string dir, int64_t quota_us) {
  return std::unique_ptr<CpuCgroup>(new CpuCgroup(std::move(dir), /*v1=*/false, quota_us));
}

std::string CpuCgroup::procs_path() const { return v1_ ? dir_ + "/cgroup.procs" : ""; }

bool CpuCgroup::limit() {
  if (limited_.exchange(true)) return true;
  if (v1_) return write_cgroup_file(dir_ + "/cpu.cfs_quota_us", std::to_string(quota_us_));
  return write_cgroup_file(dir_ + "/cpu.max", fmt::format("{} {}", quota_us_, kCpuPeriodUs));
}

CpuCgroup::~CpuCgroup() {
  if (v1_) remove_cgroup(dir_);
}

}  // namespace kumo::executor
