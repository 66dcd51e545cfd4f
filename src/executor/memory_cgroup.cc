#include "executor/memory_cgroup.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

// The number after "<key> " in a flat keyed file (memory.events, memory.oom_control).
int64_t keyed_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  int64_t v = 0;
  while (in >> k >> v) {
    if (k == key) {
      return v;
    }
  }
  return 0;
}

}  // namespace

std::string read_cgroup_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_cgroup_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

std::vector<pid_t> cgroup_pids(const std::string& dir) {
  std::vector<pid_t> out;
  std::istringstream in(read_cgroup_file(dir + "/cgroup.procs"));
  pid_t pid = 0;
  while (in >> pid) {
    out.push_back(pid);
  }
  return out;
}

void remove_cgroup(const std::string& dir) {
  // A cgroup can only be removed once empty.
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
      return;
    }
    for (pid_t pid : cgroup_pids(dir)) {
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::vector<std::string> sweep_cgroups(const std::string& root) {
  std::vector<std::string> dirs, left;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory(ec)) dirs.push_back(entry.path().string());
  }
  for (const std::string& dir : dirs) {
    for (int attempt = 0; attempt < 10 && fs::exists(dir, ec); ++attempt) remove_cgroup(dir);
    if (fs::exists(dir, ec)) left.push_back(dir);
  }
  return left;
}

std::string default_cgroup_root() {
  std::error_code ec;
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers", ec)) {
    return "/sys/fs/cgroup/kumo";
  }
  return "/sys/fs/cgroup/memory/kumo";
}

Result<CgroupVersion> prepare_cgroup_root(const std::string& root) {
  std::error_code ec;
  fs::path parent = fs::path(root).parent_path();
  CgroupVersion version = fs::exists(parent / "cgroup.controllers", ec) ? CgroupVersion::kV2
                                                                        : CgroupVersion::kV1;
  fs::create_directories(root, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot create cgroup {}: {}", root, ec.message()));
  }
  if (version == CgroupVersion::kV2) {
    // Children of `root` get memory files only when each level delegates the controller,
    // from the top of the hierarchy down. pids and cpu are enabled on their own so that
    // their absence does not cost the memory limit.
    std::vector<fs::path> levels = {root};
    for (fs::path up = parent; fs::exists(up / "cgroup.controllers", ec) && up != up.parent_path();
         up = up.parent_path()) {
      levels.push_back(up);
    }
    for (auto level = levels.rbegin(); level != levels.rend(); ++level) {
      write_cgroup_file((*level / "cgroup.subtree_control").string(), "+memory");
      write_cgroup_file((*level / "cgroup.subtree_control").string(), "+pids");
      write_cgroup_file((*level / "cgroup.subtree_control").string(), "+cpu");
    }
  }
  auto probe = MemoryCgroup::create(root, version, "probe-" + std::to_string(getpid()), 64 << 20);
  if (!probe) {
    return probe.error();
  }
  return version;
}

bool v2_pids_enabled(const std::string& root) { return v2_controller_enabled(root, "pids"); }

bool v2_controller_enabled(const std::string& root, const std::string& controller) {
  std::istringstream in(read_cgroup_file(root + "/cgroup.subtree_control"));
  std::string enabled;
  while (in >> enabled) {
    if (enabled == controller) return true;
  }
  return false;
}

Result<std::string> make_cgroup_dir(const std::string& root, const std::string& name) {
  std::string dir = root + "/" + name;
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot create cgroup {}: {}", dir, ec.message()));
  }
  return dir;
}

Result<std::unique_ptr<MemoryCgroup>> MemoryCgroup::create(const std::string& root,
                                                           CgroupVersion version,
                                                           const std::string& name,
                                                           int64_t limit_bytes,
                                                           int64_t max_pids) {
  auto made = make_cgroup_dir(root, name);
  if (!made) return made.error();
  const std::string& dir = *made;
  std::unique_ptr<MemoryCgroup> group(new MemoryCgroup(dir, version));
  std::string limit = std::to_string(limit_bytes);
  bool ok = false;
  if (version == CgroupVersion::kV2) {
    ok = write_cgroup_file(dir + "/memory.max", limit);
    write_cgroup_file(dir + "/memory.swap.max", "0");  // absent without swap accounting
  } else {
    ok = write_cgroup_file(dir + "/memory.limit_in_bytes", limit);
    std::error_code ec;
    if (fs::exists(dir + "/memory.memsw.limit_in_bytes", ec)) {
      write_cgroup_file(dir + "/memory.memsw.limit_in_bytes", limit);
    }
  }
  if (!ok) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot set the memory limit of cgroup {}", dir));
  }
  if (version == CgroupVersion::kV2 && max_pids > 0 &&
      !write_cgroup_file(dir + "/pids.max", std::to_string(max_pids))) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot set the task limit of cgroup {}", dir));
  }
  return group;
}

bool MemoryCgroup::oom_killed() const {
  if (version_ == CgroupVersion::kV2) {
    return keyed_value(read_cgroup_file(dir_ + "/memory.events"), "oom_kill") > 0;
  }
  std::string control = read_cgroup_file(dir_ + "/memory.oom_control");
  if (control.find("oom_kill ") != std::string::npos) {
    return keyed_value(control, "oom_kill") > 0;
  }
  // Kernels before 4.13 have no oom_kill counter; hitting the limit is the best evidence.
  return std::atoll(read_cgroup_file(dir_ + "/memory.failcnt").c_str()) > 0;
}

std::vector<pid_t> MemoryCgroup::pids() const { return cgroup_pids(dir_); }

MemoryCgroup::~MemoryCgroup() { remove_cgroup(dir_); }

}  // namespace kumo::executor
