#include "executor/sandbox.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "executor/netns.h"
#include "executor/seccomp_filter.h"

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kFirstUid = 200000;  // above any account a Debian host makes
constexpr uid_t kUidCount = 50000;
constexpr unsigned long kNoDevSuid = MS_NOSUID | MS_NODEV;
constexpr unsigned long kReadOnlyBind = MS_BIND | MS_REMOUNT | MS_RDONLY | kNoDevSuid;

// Files of /etc a function never needs to read, masked with an empty file.
constexpr const char* kEtcSecrets[] = {"shadow", "shadow-", "gshadow", "gshadow-",
                                       "security/opasswd", "ssl/private", "ssh", "sudoers",
                                       "sudoers.d"};
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom"};

// The highest capability this kernel knows (read once).
int last_cap() {
  static const int last = [] {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int value = CAP_LAST_CAP;
    in >> value;
    return value;
  }();
  return last;
}

}  // namespace

uid_t sandbox_uid(const std::string& function) {
  uint32_t hash = 2166136261U;  // FNV-1a
  for (unsigned char c : function) hash = (hash ^ c) * 16777619U;
  return kFirstUid + hash % kUidCount;
}

namespace {

using Step = PreparedSandbox::Step;

Step dir_step(std::string path) { return {Step::kDir, std::move(path), {}, nullptr, {}, 0}; }
Step file_step(std::string path) { return {Step::kFile, std::move(path), {}, nullptr, {}, 0}; }
Step link_step(std::string text, std::string path) {
  return {Step::kLink, std::move(text), std::move(path), nullptr, {}, 0};
}

void add_dirs(std::vector<Step>& steps, const std::string& root, const std::string& path) {
  std::string at = root;
  for (const auto& part : fs::path(path).relative_path()) {
    at += "/" + part.string();
    steps.push_back({Step::kDir, at, {}, nullptr, {}, 0});
  }
}

void add_bind(std::vector<Step>& steps, const std::string& source, const std::string& target,
              bool read_only) {
  steps.push_back({Step::kMount, source, target, nullptr, {}, MS_BIND | MS_REC});
  steps.push_back({Step::kRemount, {}, target, nullptr, {},
                   read_only ? kReadOnlyBind : MS_BIND | MS_REMOUNT | kNoDevSuid});
}

void add_tmpfs(std::vector<Step>& steps, const std::string& target, const std::string& data,
               unsigned long flags) {
  steps.push_back({Step::kMount, "tmpfs", target, "tmpfs", data, flags});
}

// What of the host's system a box shows, looked up once: it does not change while Kumo runs,
// and every spawn would otherwise stat it again.
struct HostSystem {
  std::vector<std::pair<std::string, std::string>> links;  // /bin -> its target, ...
  std::vector<std::string> top_dirs;      // /lib64 and the like where they are folders
  std::vector<std::string> secret_dirs;   // under /etc, covered by an empty tmpfs
  std::vector<std::string> secret_files;  // under /etc, covered by /dev/null
};

const HostSystem& host_system() {
  static const HostSystem system = [] {
    HostSystem out;
    for (const char* top : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
      std::string host = std::string("/") + top;
      std::error_code ec;
      auto status = fs::symlink_status(host, ec);
      if (ec || !fs::exists(status)) continue;
      if (fs::is_symlink(status)) {
        out.links.emplace_back(host, fs::read_symlink(host, ec).string());
      } else if (fs::is_directory(status)) {
        out.top_dirs.push_back(host);
      }
    }
    for (const char* secret : kEtcSecrets) {
      std::string host = std::string("/etc/") + secret;
      std::error_code ec;
      auto status = fs::symlink_status(host, ec);
      if (ec || !fs::exists(status) || fs::is_symlink(status)) continue;
      (fs::is_directory(status) ? out.secret_dirs : out.secret_files).push_back(host);
    }
    return out;
  }();
  return system;
}

// /usr and the top-level links of a merged /usr (or binds where they are folders), /etc
// with its secrets covered.
void add_system(std::vector<Step>& steps, const std::string& root) {
  const HostSystem& host = host_system();
  add_dirs(steps, root, "/usr");
  add_bind(steps, "/usr", root + "/usr", true);
  for (const auto& [path, target] : host.links) steps.push_back(link_step(target, root + path));
  for (const std::string& dir : host.top_dirs) {
    add_dirs(steps, root, dir);
    add_bind(steps, dir, root + dir, true);
  }
  add_dirs(steps, root, "/etc");
  add_bind(steps, "/etc", root + "/etc", true);
  for (const std::string& dir : host.secret_dirs) {
    add_tmpfs(steps, root + dir, "size=4k,mode=0755", MS_RDONLY | kNoDevSuid | MS_NOEXEC);
  }
  for (const std::string& file : host.secret_files) {
    steps.push_back({Step::kMount, "/dev/null", root + file, nullptr, {}, MS_BIND});
  }
}

void add_dev(std::vector<Step>& steps, const std::string& root, int shm_mb,
             const std::vector<std::string>& extra) {
  std::string dev = root + "/dev";
  steps.push_back(dir_step(dev));
  add_tmpfs(steps, dev, "size=64k,mode=0755", MS_NOSUID | MS_NOEXEC);
  std::vector<std::string> devices;
  for (const char* name : kDevices) devices.push_back(std::string("/dev/") + name);
  for (const std::string& path : extra) {
    std::error_code ec;
    if (path.starts_with("/dev/") && fs::is_character_file(path, ec)) devices.push_back(path);
  }
  for (const std::string& device : devices) {
    std::string target = dev + "/" + fs::path(device).filename().string();
    steps.push_back(file_step(target));
    steps.push_back({Step::kMount, device, target, nullptr, {}, MS_BIND});
  }
  steps.push_back(dir_step(dev + "/shm"));
  add_tmpfs(steps, dev + "/shm", fmt::format("size={}m,mode=1777", shm_mb),
            kNoDevSuid | MS_NOEXEC);
  steps.push_back(dir_step(dev + "/pts"));
  steps.push_back(link_step("/proc/self/fd", dev + "/fd"));
  steps.push_back(link_step("/proc/self/fd/0", dev + "/stdin"));
  steps.push_back(link_step("/proc/self/fd/1", dev + "/stdout"));
  steps.push_back(link_step("/proc/self/fd/2", dev + "/stderr"));
  steps.push_back({Step::kRemount, {}, dev, nullptr, "size=64k,mode=0755",
                   MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC});
}

// "/usr/..." needs no bind of its own; nor does a folder under one already bound.
bool covered(const std::string& path, const std::vector<std::string>& bound) {
  for (const std::string& b : bound) {
    if (path == b || path.starts_with(b + "/")) return true;
  }
  return false;
}

const char* run_step(const Step& s) {
  switch (s.kind) {
    case Step::kDir:
      if (::mkdir(s.a.c_str(), 0755) != 0 && errno != EEXIST) return "make a folder";
      return nullptr;
    case Step::kFile: {
      int fd = ::open(s.a.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return "make a mount point";
      ::close(fd);
      return nullptr;
    }
    case Step::kLink:
      if (::symlink(s.a.c_str(), s.b.c_str()) != 0 && errno != EEXIST) return "make a link";
      return nullptr;
    case Step::kMount:
      if (::mount(s.a.c_str(), s.b.c_str(), s.fstype, s.flags,
                  s.data.empty() ? nullptr : s.data.c_str()) != 0) {
        return "mount";
      }
      return nullptr;
    case Step::kRemount:
      if (::mount(nullptr, s.b.c_str(), nullptr, s.flags,
                  s.data.empty() ? nullptr : s.data.c_str()) != 0) {
        return "remount read-only";
      }
      return nullptr;
  }
  return nullptr;
}

}  // namespace

Result<PreparedSandbox> PreparedSandbox::prepare(const SandboxPlan& plan,
                                                 const std::string& staging) {
  PreparedSandbox out;
  out.enabled_ = plan.enabled;
  if (!plan.enabled) return out;
  out.network_ = plan.network;
  out.uid_ = plan.uid;
  out.max_open_files_ = plan.max_open_files;
  out.seccomp_ = plan.seccomp;
  out.last_cap_ = last_cap();
  out.root_ = fs::path(staging).lexically_normal().string();
  while (out.root_.size() > 1 && out.root_.ends_with('/')) out.root_.pop_back();
  std::vector<Step>& steps = out.steps_;
  const std::string& root = out.root_;
  add_tmpfs(steps, root, "size=1m,mode=0755", kNoDevSuid);
  add_system(steps, root);
  std::vector<std::string> bound = {"/usr", "/etc"};
  add_dirs(steps, root, kTaskRoot);
  add_bind(steps, plan.code_dir, root + kTaskRoot, true);
  add_dirs(steps, root, kRuntimeRoot);
  add_bind(steps, plan.runtime_dir, root + kRuntimeRoot, true);
  for (const auto& [list, read_only] : {std::pair{&plan.read_only, true},
                                        std::pair{&plan.writable, false}}) {
    for (const std::string& path : *list) {
      std::string clean = fs::path(path).lexically_normal().string();
      std::error_code ec;
      if (clean.empty() || clean[0] != '/' || covered(clean, bound) ||
          !fs::is_directory(clean, ec)) {
        continue;
      }
      add_dirs(steps, root, clean);
      add_bind(steps, clean, root + clean, read_only);
      bound.push_back(clean);
    }
  }
  steps.push_back(dir_step(root + "/tmp"));
  add_tmpfs(steps, root + "/tmp", fmt::format("size={}m,mode=1777", plan.tmp_mb), kNoDevSuid);
  steps.push_back(dir_step(root + "/proc"));
  steps.push_back({Step::kMount, "proc", root + "/proc", "proc", {},
                   kNoDevSuid | MS_NOEXEC});
  add_dev(steps, root, std::min(plan.tmp_mb, 64), plan.devices);
  return out;
}

int PreparedSandbox::clone_flags() const {
  if (!enabled_) return 0;
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (!network_) flags |= CLONE_NEWNET;
  return flags;
}

const char* PreparedSandbox::build_root() const {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return "make mounts private";
  }
  for (const Step& step : steps_) {
    if (const char* failed = run_step(step); failed != nullptr) return failed;
  }
  if (::chdir(root_.c_str()) != 0) return "enter the new root";
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return "pivot_root";
  if (::umount2(".", MNT_DETACH) != 0) return "detach the old root";
  if (::chdir("/") != 0) return "enter the new root";
  if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | kNoDevSuid, nullptr) != 0) {
    return "make the root read-only";
  }
  return nullptr;
}

// Raw system calls: after a bare clone(), glibc's set*id would try to reach the parent's
// other threads.
const char* PreparedSandbox::drop_privileges() const {
  rlimit files{static_cast<rlim_t>(max_open_files_), static_cast<rlim_t>(max_open_files_)};
  if (max_open_files_ > 0 && ::setrlimit(RLIMIT_NOFILE, &files) != 0) return "RLIMIT_NOFILE";
  for (int cap = 0; cap <= last_cap_; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return "drop capabilities";
    }
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) return "setgroups";
  if (::syscall(SYS_setresgid, uid_, uid_, uid_) != 0) return "setresgid";
  if (::syscall(SYS_setresuid, uid_, uid_, uid_) != 0) return "setresuid";
  return nullptr;
}

const char* PreparedSandbox::enter() const {
  if (!enabled_) return nullptr;
  if (::unshare(CLONE_NEWCGROUP) != 0) return "unshare(CLONE_NEWCGROUP)";
  if (const char* failed = build_root(); failed != nullptr) return failed;
  static const char kHost[] = "kumo";
  if (::sethostname(kHost, sizeof(kHost) - 1) != 0) return "sethostname";
  if (!network_ && bring_loopback_up() != 0) return "bring loopback up";
  if (const char* failed = drop_privileges(); failed != nullptr) return failed;
  if (seccomp_ != nullptr) return seccomp_->install();
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "no_new_privs";
  return nullptr;
}

const std::string& sandbox_unavailable_reason() {
  static const std::string reason = [] () -> std::string {
    char tmpl[] = "/tmp/kumo-box-probe-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return "cannot make a probe folder";
    std::string dir = tmpl;
    std::error_code ec;
    fs::create_directories(dir + "/root", ec);
    fs::create_directories(dir + "/code", ec);
    SandboxPlan plan;
    plan.enabled = true;
    plan.uid = sandbox_uid("probe");
    plan.code_dir = plan.runtime_dir = dir + "/code";
    plan.tmp_mb = 1;
    auto prepared = PreparedSandbox::prepare(plan, dir + "/root");
    std::string why;
    int pipe_fds[2];
    if (!prepared || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      why = "cannot prepare a probe";
    } else {
      long pid = ::syscall(SYS_clone, prepared->clone_flags() | SIGCHLD, 0, 0, 0, 0);
      if (pid == 0) {
        const char* failed = prepared->enter();
        if (failed != nullptr) {
          ssize_t n = ::write(pipe_fds[1], failed, std::strlen(failed));
          (void)n;
        }
        _exit(failed == nullptr ? 0 : 1);
      }
      ::close(pipe_fds[1]);
      if (pid < 0) {
        why = fmt::format("clone with new namespaces: {}", std::strerror(errno));
      } else {
        char step[64] = {};
        ssize_t n = ::read(pipe_fds[0], step, sizeof(step) - 1);
        int status = 0;
        while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
        }
        if (n > 0) {
          why = fmt::format("{} failed in a test child", std::string(step, n));
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          why = "a test child did not finish";
        }
      }
      ::close(pipe_fds[0]);
    }
    fs::remove_all(dir, ec);
    return why;
  }();
  return reason;
}

}  // namespace kumo::executor
