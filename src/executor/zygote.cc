#include "executor/zygote.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/check.h"

namespace kumo::executor {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A fork of a large template (a loaded model) copies its page tables: allow for a slow one.
constexpr milliseconds kRequestTimeout{5'000};
constexpr size_t kMaxMessage = 64 * 1024;

bool send_message(int fd, const std::string& text, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(text.size());
}

// One message, or nullopt at end of stream, on error or after `limit`.
std::optional<std::string> receive_message(int fd, milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(limit.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0) return std::nullopt;
  std::string buf(kMaxMessage, '\0');
  ssize_t n;
  do {
    n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return buf;
}

json parse_object(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

}  // namespace

Zygote::Zygote(ZygoteConfig config) : config_(std::move(config)) {}

Result<std::shared_ptr<Zygote>> Zygote::start(ZygoteConfig config) {
  auto log = LogFile::open(config.log_path);
  if (!log) return log.error();
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return make_error(ErrorCode::kInternal, "socketpair failed");
  }
  UniqueFd child_end(pair[1]);
  std::shared_ptr<Zygote> z(new Zygote(std::move(config)));
  z->control_.reset(pair[0]);
  z->log_ = std::move(*log);
  ProcessSpec ps;
  ps.argv = {z->config_.python, "-u", "-B", "-s", z->config_.shim_path};
  ps.env = z->config_.env;
  ps.cwd = z->config_.workdir;
  ps.mounts = z->config_.mounts;
  if (z->config_.mounts.enabled) z->task_root_ = z->config_.workdir;
  if (z->config_.sandbox.enabled) {
    ps.sandbox = z->config_.sandbox;
    ps.box_root = z->config_.workdir;
    ps.cwd = z->task_root_ = kTaskRoot;
  }
  if (z->config_.cgroup) ps.cgroup_procs.push_back(z->config_.cgroup->procs_path());
  if (z->config_.pids_cgroup) ps.cgroup_procs.push_back(z->config_.pids_cgroup->procs_path());
  ps.rlimit_as_bytes = z->config_.rlimit_as_bytes;
  ps.control_fd = child_end.get();
  auto proc = spawn_process(ps);
  if (!proc) return proc.error();
  if (!proc->pidfd.valid()) {  // forked instances are watched through pidfds
    ::kill(proc->pid, SIGKILL);
    waitpid(proc->pid, nullptr, 0);
    return make_error(ErrorCode::kUnavailable, "zygote: the kernel has no pidfd_open");
  }
  z->proc_ = std::move(*proc);
  if (z->config_.open_api) z->api_listener_ = z->config_.open_api(z->proc_.pid);
  z->wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  z->watcher_ = std::thread([raw = z.get()] { raw->watch(); });
  return z;
}

Zygote::~Zygote() {
  if (!watcher_.joinable()) {  // start() failed before the template ran
    remove_workdir(config_.workdir);
    return;
  }
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  // Only the template's own group: forked instances left it with setsid.
  ::kill(-proc_.pid, SIGKILL);
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
  (void)n;
  watcher_.join();
  config_.cgroup.reset();
  config_.pids_cgroup.reset();
  remove_workdir(config_.workdir);
}

Zygote::State Zygote::state() {
  std::lock_guard lock(mu_);
  return state_;
}

bool Zygote::was_ready() {
  std::lock_guard lock(mu_);
  return was_ready_;
}

Zygote::State Zygote::wait(const std::function<bool()>& give_up) {
  std::unique_lock lock(mu_);
  while (state_ == State::kStarting) {
    if (give_up()) break;
    cv_.wait_for(lock, milliseconds(20));
  }
  return state_;
}

Reply Zygote::init_error() {
  std::lock_guard lock(mu_);
  return init_error_;
}

void Zygote::set_state(State state) {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kInitFailed && state == State::kGone) return;
    state_ = state;
    if (state == State::kReady) was_ready_ = true;
  }
  cv_.notify_all();
}

bool Zygote::read_output(int fd, LineSplitter& splitter, const char* stream) {
  char buf[16384];
  std::string timestamp = rfc3339_now();
  auto on_line = [&](const LogLine& line) { log_.add(timestamp, "", stream, line.text); };
  ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n > 0) {
    splitter.feed(std::string_view(buf, static_cast<size_t>(n)), on_line);
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    splitter.finish(on_line);
  }
  log_.flush();
  return n > 0;
}

void Zygote::drain_output() {
  while (read_output(proc_.stdout_fd.get(), stdout_lines_, "stdout")) {
  }
  while (read_output(proc_.stderr_fd.get(), stderr_lines_, "stderr")) {
  }
}

void Zygote::read_status_message() {
  auto text = receive_message(control_.get(), milliseconds(0));
  if (!text) return;  // end of stream: the exit is seen through the pidfd
  json message = parse_object(*text);
  if (message.contains("init_error")) {
    drain_output();  // the traceback, written before the message, goes to the log first
    const json& e = message["init_error"];
    Reply error;
    error.outcome = Outcome::kInitError;
    error.error_type = e.value("type", "InitError");
    error.error_message = e.value("message", "");
    {
      std::lock_guard lock(mu_);
      init_error_ = std::move(error);
    }
    set_state(State::kInitFailed);
  } else if (message.value("ready", false)) {
    set_state(State::kReady);
    std::lock_guard lock(mu_);
    want_spare_ = true;
  }
}

void Zygote::watch() {
  auto init_deadline = std::chrono::steady_clock::now() + config_.init_timeout;
  bool out_eof = false, err_eof = false;
  while (true) {
    bool starting = state() == State::kStarting;
    pollfd fds[5] = {
        {out_eof ? -1 : proc_.stdout_fd.get(), POLLIN, 0},
        {err_eof ? -1 : proc_.stderr_fd.get(), POLLIN, 0},
        {starting ? control_.get() : -1, POLLIN, 0},
        {proc_.pidfd.get(), POLLIN, 0},
        {wake_fd_.get(), POLLIN, 0},
    };
    int rc = ::poll(fds, 5, starting ? 50 : -1);
    KUMO_CHECK(rc >= 0 || errno == EINTR);
    if (fds[0].revents && !read_output(fds[0].fd, stdout_lines_, "stdout")) out_eof = true;
    if (fds[1].revents && !read_output(fds[1].fd, stderr_lines_, "stderr")) err_eof = true;
    if (fds[2].revents) read_status_message();
    if (fds[3].revents) break;
    if (fds[4].revents) {
      uint64_t count = 0;
      ssize_t n = ::read(wake_fd_.get(), &count, sizeof(count));
      (void)n;
    }
    prepare_spare();
    if (starting && std::chrono::steady_clock::now() >= init_deadline) {
      ::kill(-proc_.pid, SIGKILL);  // init hangs: the instances fall back or time out
    }
    std::lock_guard lock(mu_);
    if (closing_) break;
  }
  ::kill(-proc_.pid, SIGKILL);
  while (waitpid(proc_.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  drain_output();
  set_state(State::kGone);
}

Result<std::string> Zygote::request(const std::string& message, const std::vector<int>& fds) {
  std::lock_guard lock(request_mu_);
  if (state() != State::kReady) {
    return make_error(ErrorCode::kUnavailable, "zygote: the template is not ready");
  }
  if (!send_message(control_.get(), message, fds)) {
    return make_error(ErrorCode::kUnavailable, "zygote: the template is gone");
  }
  auto reply = receive_message(control_.get(), kRequestTimeout);
  if (!reply) return make_error(ErrorCode::kUnavailable, "zygote: the template did not answer");
  return *reply;
}

// Runs on the watcher thread after the template is ready and after each fork. It holds
// request_mu_ throughout, so the spare cannot be handed over before it is in its cgroups.
void Zygote::prepare_spare() {
  {
    std::lock_guard lock(mu_);
    if (!want_spare_ || closing_ || prepared_ || !config_.prepare_spare) return;
    want_spare_ = false;
  }
  std::lock_guard request_lock(request_mu_);
  if (state() != State::kReady) return;
  if (!send_message(control_.get(), R"({"spare": 1})", {})) return;
  auto reply = receive_message(control_.get(), kRequestTimeout);
  if (!reply) return;
  pid_t pid = host_pid(parse_object(*reply).value("pid", -1));
  if (pid <= 0) return;
  auto prepared = config_.prepare_spare(pid);
  if (!prepared) return;  // the fork path joins the cgroups instead
  std::lock_guard lock(mu_);
  prepared_ = std::move(*prepared);
}

std::optional<PreparedSpare> Zygote::take_prepared() {
  std::lock_guard lock(mu_);
  std::optional<PreparedSpare> out = std::move(prepared_);
  prepared_.reset();
  return out;
}

Result<pid_t> Zygote::fork(const std::string& id, const std::string& cwd,
                           const std::vector<std::string>& env, int control, int out, int err,
                           bool* fresh) {
  json message = {{"fork", id}, {"cwd", cwd}, {"env", env}};
  auto reply = request(message.dump(), {control, out, err});
  if (config_.prepare_spare) {
    {
      std::lock_guard lock(mu_);
      want_spare_ = true;
    }
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
    (void)n;
  }
  if (!reply) return reply.error();
  json answer = parse_object(*reply);
  if (fresh) *fresh = answer.value("fresh", true);
  pid_t pid = host_pid(answer.value("pid", -1));
  if (pid <= 0) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("zygote: fork failed: {}", answer.value("error", *reply)));
  }
  return pid;
}

pid_t Zygote::host_pid(pid_t pid) {
  if (!config_.sandbox.enabled || pid <= 0) return pid;
  // The template's children, as Kumo sees them; the last NSpid of each is the template's view.
  std::ifstream children(fmt::format("/proc/{}/task/{}/children", proc_.pid, proc_.pid));
  pid_t child = 0;
  while (children >> child) {
    std::ifstream status(fmt::format("/proc/{}/status", child));
    std::string line;
    while (std::getline(status, line)) {
      if (!line.starts_with("NSpid:")) continue;
      std::istringstream fields(line.substr(6));
      pid_t inner = 0, last = 0;
      while (fields >> inner) last = inner;
      if (last != pid) break;
      std::lock_guard lock(mu_);
      inner_pids_[child] = pid;
      return child;
    }
  }
  return -1;
}

std::optional<int> Zygote::reap(pid_t pid) {
  pid_t inner = pid;
  {
    std::lock_guard lock(mu_);
    if (auto it = inner_pids_.find(pid); it != inner_pids_.end()) {
      inner = it->second;
      inner_pids_.erase(it);
    }
  }
  auto reply = request(json{{"reap", inner}}.dump(), {});
  if (!reply) return std::nullopt;
  json answer = parse_object(*reply);
  if (!answer.contains("status") || !answer["status"].is_number_integer()) return std::nullopt;
  int status = answer["status"].get<int>();
  if (status < 0) return std::nullopt;
  return status;
}

}  // namespace kumo::executor
