#include "executor/spawn.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>


namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

constexpr unsigned kCloseRangeCloexec = 1U << 2;  // CLOSE_RANGE_CLOEXEC, Linux 5.11

Error sys_error(const std::string& what) {
  return make_error(ErrorCode::kInternal, fmt::format("{}: {}", what, std::strerror(errno)));
}

// Writes the decimal form of `value` to `fd`; async-signal-safe (no allocation).
void write_decimal(int fd, long value) {
  char buf[24];
  int i = sizeof(buf);
  do {
    buf[--i] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && i > 0);
  ssize_t n = ::write(fd, buf + i, sizeof(buf) - i);
  (void)n;
}

[[noreturn]] void child_fail(int error_fd, const char* step) {
  ssize_t n = ::write(error_fd, step, std::strlen(step));
  (void)n;
  _exit(127);
}

// Runs in the forked child: only async-signal-safe calls from here to exec.
[[noreturn]] void run_child(const ProcessSpec& spec, const PreparedMounts& mounts,
                            const PreparedSandbox& box,
                            char* const argv[], char* const envp[], int out_fd, int err_fd,
                            int error_fd) {
  setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP}) {
    signal(sig, SIG_DFL);  // ignored dispositions would survive exec
  }
  for (const std::string& procs : spec.cgroup_procs) {  // reads only: no allocation
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_fail(error_fd, "join cgroup");
    write_decimal(fd, getpid());
    ::close(fd);
  }
  if (spec.rlimit_as_bytes > 0) {
    rlimit limit{static_cast<rlim_t>(spec.rlimit_as_bytes),
                 static_cast<rlim_t>(spec.rlimit_as_bytes)};
    if (setrlimit(RLIMIT_AS, &limit) != 0) child_fail(error_fd, "setrlimit");
  }
  if (const char* failed = mounts.enter(); failed != nullptr) child_fail(error_fd, failed);
  if (const char* failed = box.enter(); failed != nullptr) child_fail(error_fd, failed);
  // Move the sources above the targets first so that no dup2 overwrites another source.
  int null_fd = ::open("/dev/null", O_RDONLY);
  int sources[4] = {null_fd, out_fd, err_fd, spec.control_fd};
  for (int& fd : sources) {
    if (fd >= 0) fd = fcntl(fd, F_DUPFD, 10);
  }
  for (int target = 0; target < 4; ++target) {
    if (sources[target] >= 0 && dup2(sources[target], target) < 0) child_fail(error_fd, "dup2");
  }
  // Everything else closes at exec; the error pipe stays usable until then.
  int first_inherited = spec.control_fd >= 0 ? 4 : 3;
  if (syscall(SYS_close_range, first_inherited, ~0U, kCloseRangeCloexec) != 0) {
    for (int fd = first_inherited; fd < 65536; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (chdir(spec.cwd.c_str()) != 0) child_fail(error_fd, "chdir");
  execve(argv[0], argv, envp);
  child_fail(error_fd, "exec");
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) {
    out.push_back(const_cast<char*>(s.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

// Waits for the child to exec (the error pipe closes) or to report which step failed.
Result<void> await_exec(int error_read, pid_t pid, const std::string& program) {
  char step[64];
  ssize_t n;
  do {
    n = ::read(error_read, step, sizeof(step) - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    return {};
  }
  step[n] = '\0';
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return make_error(ErrorCode::kInternal,
                    fmt::format("cannot start {}: {} failed in the child", program, step));
}

}  // namespace

Result<SpawnedProcess> spawn_process(const ProcessSpec& spec) {
  int out[2], err[2], error_pipe[2];
  if (pipe2(out, O_CLOEXEC) != 0) return sys_error("pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return sys_error("pipe");
  UniqueFd err_r(err[0]), err_w(err[1]);
  if (pipe2(error_pipe, O_CLOEXEC) != 0) return sys_error("pipe");
  UniqueFd error_r(error_pipe[0]), error_w(error_pipe[1]);
  std::vector<char*> argv = c_strings(spec.argv);
  std::vector<char*> envp = c_strings(spec.env);
  auto mounts = PreparedMounts::prepare(spec.mounts);
  if (!mounts) return mounts.error();
  auto box = PreparedSandbox::prepare(spec.sandbox, spec.box_root);
  if (!box) return box.error();

  // A bare clone() for new namespaces (the child is then pid 1 of its own); the child makes
  // only system calls until exec, so glibc's fork bookkeeping is not needed.
  int flags = box->clone_flags();
  pid_t pid = flags != 0 ? static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0))
                         : fork();
  if (pid < 0) return sys_error("fork");
  if (pid == 0) {
    run_child(spec, *mounts, *box, argv.data(), envp.data(), out_w.get(), err_w.get(),
              error_w.get());
  }
  setpgid(pid, pid);  // also here, so the group exists before we might signal it
  error_w.reset();
  out_w.reset();
  err_w.reset();
  if (auto started = await_exec(error_r.get(), pid, spec.argv[0]); !started) {
    return started.error();
  }
  SpawnedProcess proc;
  proc.pid = pid;
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  proc.stdout_fd = std::move(out_r);
  proc.stderr_fd = std::move(err_r);
  proc.pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  return proc;
}

Result<std::string> make_workdir(const std::string& root, const std::string& id,
                                 const std::string& code_dir) {
  fs::path dir = fs::path(root) / id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  }
  if (code_dir.empty()) return dir.string();
  fs::copy(code_dir, dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (!ec) {
    fs::create_directories(dir / "tmp", ec);
  }
  if (ec) {
    remove_workdir(dir.string());
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot copy {} into {}: {}", code_dir, dir.string(),
                                  ec.message()));
  }
  return dir.string();
}

void remove_workdir(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

Result<int> pick_free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return sys_error("bind");
  }
  return ntohs(addr.sin_port);
}

bool port_accepts(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return fd.valid() &&
         ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace kumo::executor
