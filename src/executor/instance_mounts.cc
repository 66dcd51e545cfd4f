#include "executor/instance_mounts.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

// The folders on the way to `target` (itself included when it is a folder), top down.
std::vector<std::string> folders_to(const std::string& target, bool is_dir) {
  std::vector<std::string> out;
  fs::path p = fs::path(target).lexically_normal();
  if (!is_dir) p = p.parent_path();
  for (; p.has_relative_path(); p = p.parent_path()) out.insert(out.begin(), p.string());
  return out;
}

// Makes a file for a file bind's target where it is missing (inside the new /tmp).
bool make_mount_target(const char* path, bool is_dir) {
  struct stat st;
  if (::stat(path, &st) == 0) return true;
  if (is_dir) return ::mkdir(path, 0755) == 0 || errno == EEXIST;
  int fd = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// "/proc/self/fd/<fd>" into `out` (32 bytes); async-signal-safe.
void fd_path(int fd, char* out) {
  const char prefix[] = "/proc/self/fd/";
  size_t n = sizeof(prefix) - 1;
  std::memcpy(out, prefix, n);
  char digits[12];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  while (d > 0) out[n++] = digits[--d];
  out[n] = '\0';
}

}  // namespace

Result<PreparedMounts> PreparedMounts::prepare(const MountPlan& plan) {
  PreparedMounts out;
  out.enabled_ = plan.enabled;
  if (!plan.enabled) return out;
  if (plan.read_only.size() > kMaxBinds) {
    return make_error(ErrorCode::kInternal, "instance mounts: too many binds");
  }
  for (const ReadOnlyBind& bind : plan.read_only) {
    Bind b;
    struct stat st;
    if (::stat(bind.source.c_str(), &st) != 0) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("cannot mount {}: {}", bind.source, std::strerror(errno)));
    }
    b.is_dir = S_ISDIR(st.st_mode);
    b.source = bind.source;
    b.target = bind.target;
    b.made_dirs = folders_to(bind.target, b.is_dir);
    out.binds_.push_back(std::move(b));
  }
  if (plan.tmp_mb > 0) out.tmp_options_ = fmt::format("size={}m,mode=1777", plan.tmp_mb);
  return out;
}

const char* PreparedMounts::enter() const {
  if (!enabled_) return nullptr;
  if (::unshare(CLONE_NEWNS) != 0) return "unshare(CLONE_NEWNS)";
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return "make mounts private";
  }
  // Opened here, not in the parent: a bind's source must be a mount of this namespace.
  int sources[kMaxBinds];
  for (size_t i = 0; i < binds_.size(); ++i) {
    sources[i] = ::open(binds_[i].source.c_str(), O_PATH | O_CLOEXEC);
    if (sources[i] < 0) return "open the code";
  }
  if (!tmp_options_.empty() &&
      ::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_options_.c_str()) != 0) {
    return "mount a tmpfs at /tmp";
  }
  for (size_t i = 0; i < binds_.size(); ++i) {
    const Bind& b = binds_[i];
    for (const std::string& dir : b.made_dirs) {
      if (!make_mount_target(dir.c_str(), true)) return "make a mount point";
    }
    if (!b.is_dir && !make_mount_target(b.target.c_str(), false)) return "make a mount point";
    char source[32];
    fd_path(sources[i], source);
    if (::mount(source, b.target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return "bind the code";
    }
    ::close(sources[i]);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
    if (::mount(nullptr, b.target.c_str(), nullptr, flags, nullptr) != 0) {
      return "make the code read-only";
    }
  }
  return nullptr;
}

bool mount_namespaces_usable() {
  static const bool usable = [] {
    MountPlan plan;
    plan.enabled = true;
    plan.tmp_mb = 1;
    plan.read_only.push_back({"/", "/tmp/kumo-probe"});
    auto prepared = PreparedMounts::prepare(plan);
    if (!prepared) return false;
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) _exit(prepared->enter() == nullptr ? 0 : 1);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  return usable;
}

}  // namespace kumo::executor
