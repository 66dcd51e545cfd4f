#include "executor/freezer_cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "executor/memory_cgroup.h"

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

// Plain open/write/close: thaw() runs before an invocation is sent.
bool write_state(const std::string& path, std::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

}  // namespace

std::string default_freezer_cgroup_root() {
  std::error_code ec;
  return fs::exists("/sys/fs/cgroup/freezer/cgroup.procs", ec) ? "/sys/fs/cgroup/freezer/kumo" : "";
}

Result<void> prepare_freezer_cgroup_root(const std::string& root) {
  if (root.empty()) {
    return make_error(ErrorCode::kUnavailable, "no cgroup v1 freezer hierarchy is mounted");
  }
  // create_directory, not create_directories: a missing parent means no freezer hierarchy.
  std::error_code ec;
  fs::create_directory(root, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot create cgroup {}: {}", root, ec.message()));
  }
  auto probe = FreezerCgroup::create(root, "probe-" + std::to_string(getpid()));
  if (!probe) return probe.error();
  if (!(*probe)->freeze() || !(*probe)->thaw()) {
    return make_error(ErrorCode::kUnavailable, fmt::format("cannot freeze cgroups in {}", root));
  }
  return {};
}

bool v2_freezer_usable(const std::string& root) {
  std::error_code ec;
  return fs::exists(root + "/cgroup.freeze", ec);
}

void thaw_cgroups(const std::string& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory(ec)) {
      write_state((entry.path() / "freezer.state").string(), "THAWED");
    }
  }
}

Result<std::unique_ptr<FreezerCgroup>> FreezerCgroup::create(const std::string& root,
                                                             const std::string& name) {
  auto made = make_cgroup_dir(root, name);
  if (!made) return made.error();
  return std::unique_ptr<FreezerCgroup>(new FreezerCgroup(*made, /*v1=*/true));
}

std::unique_ptr<FreezerCgroup> FreezerCgroup::in_memory_cgroup(std::string dir) {
  return std::unique_ptr<FreezerCgroup>(new FreezerCgroup(std::move(dir), /*v1=*/false));
}

std::string FreezerCgroup::procs_path() const { return v1_ ? dir_ + "/cgroup.procs" : ""; }

bool FreezerCgroup::freeze() {
  return v1_ ? write_state(dir_ + "/freezer.state", "FROZEN")
             : write_state(dir_ + "/cgroup.freeze", "1");
}

bool FreezerCgroup::thaw() {
  return v1_ ? write_state(dir_ + "/freezer.state", "THAWED")
             : write_state(dir_ + "/cgroup.freeze", "0");
}

bool FreezerCgroup::frozen() const {
  if (v1_) return read_cgroup_file(dir_ + "/freezer.state").starts_with("FROZEN");
  return read_cgroup_file(dir_ + "/cgroup.events").find("frozen 1") != std::string::npos;
}

FreezerCgroup::~FreezerCgroup() {
  thaw();
  if (v1_) remove_cgroup(dir_);
}

}  // namespace kumo::executor
