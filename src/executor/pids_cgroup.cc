#include "executor/pids_cgroup.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "executor/memory_cgroup.h"

namespace kumo::executor {

namespace fs = std::filesystem;

std::string default_pids_cgroup_root() {
  std::error_code ec;
  return fs::exists("/sys/fs/cgroup/pids/cgroup.procs", ec) ? "/sys/fs/cgroup/pids/kumo" : "";
}

Result<void> prepare_pids_cgroup_root(const std::string& root) {
  if (root.empty()) {
    return make_error(ErrorCode::kUnavailable, "no cgroup v1 pids hierarchy is mounted");
  }
  // create_directory, not create_directories: a missing parent means no pids hierarchy,
  // and making one up (e.g. inside a v2 tree) would create an unrelated cgroup.
  std::error_code ec;
  fs::create_directory(root, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot create cgroup {}: {}", root, ec.message()));
  }
  auto probe = PidsCgroup::create(root, "probe-" + std::to_string(getpid()), 64);
  if (!probe) {
    return probe.error();
  }
  return {};
}

Result<std::unique_ptr<PidsCgroup>> PidsCgroup::create(const std::string& root,
                                                       const std::string& name,
                                                       int64_t max_pids) {
  auto made = make_cgroup_dir(root, name);
  if (!made) return made.error();
  const std::string& dir = *made;
  std::unique_ptr<PidsCgroup> group(new PidsCgroup(dir));
  if (!write_cgroup_file(dir + "/pids.max", std::to_string(max_pids))) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot set the task limit of cgroup {}", dir));
  }
  return group;
}

PidsCgroup::~PidsCgroup() { remove_cgroup(dir_); }

}  // namespace kumo::executor
