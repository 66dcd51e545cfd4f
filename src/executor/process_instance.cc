#include "executor/process_instance.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/check.h"

namespace kumo::executor {
namespace {

using std::chrono::milliseconds;

int64_t pss_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/smaps_rollup", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pss:", 0) == 0) {
      return std::atoll(line.c_str() + 4) * 1024;  // the value is in kB
    }
  }
  return 0;
}

void call_done(ReplyHandler& handler, Reply reply) {
  if (handler.on_done) {
    handler.on_done(std::move(reply));
  }
}

// How long an invocation waited behind another one: until it began, or all of its time if it
// never did.
std::chrono::microseconds waited(const SteadyTime& added, const SteadyTime& began, bool started) {
  SteadyTime end = started ? began : std::chrono::steady_clock::now();
  return std::chrono::duration_cast<std::chrono::microseconds>(end - added);
}

}  // namespace

std::vector<std::string> InstanceSetup::cgroup_procs() const {
  std::vector<std::string> out;
  if (cgroup) out.push_back(cgroup->procs_path());
  if (pids_cgroup) out.push_back(pids_cgroup->procs_path());
  // On v2 these are files of the memory cgroup: nothing more to join.
  if (cpu_cgroup && !cpu_cgroup->procs_path().empty()) out.push_back(cpu_cgroup->procs_path());
  if (freezer && !freezer->procs_path().empty()) out.push_back(freezer->procs_path());
  return out;
}

void InstanceSetup::place(ProcessSpec& ps) const {
  ps.cwd = workdir;
  ps.mounts = mounts;
  if (!sandbox.enabled) return;
  ps.sandbox = sandbox;
  ps.box_root = workdir;
  ps.cwd = kTaskRoot;
}

std::chrono::milliseconds init_timeout(const LaunchSpec& spec) {
  return std::max<milliseconds>(spec.timeout, std::chrono::seconds(10));
}

std::string timeout_message(milliseconds timeout) {
  return fmt::format("function timed out after {:.2f} s", timeout.count() / 1000.0);
}

ProcessInstance::ProcessInstance(InstanceSetup setup) : setup_(std::move(setup)) {}

ProcessInstance::~ProcessInstance() { shutdown(); }

Result<void> ProcessInstance::start(const ProcessSpec& spec) {
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  auto proc = spawn_process(spec);
  if (!proc) {
    return proc.error();
  }
  proc_ = std::move(*proc);
  pid_ = proc_.pid;
  if (setup_.open_api) api_listener_ = setup_.open_api(pid_);
  init_deadline_ = std::chrono::steady_clock::now() + init_timeout(setup_.spec);
  io_thread_ = std::thread([this] { io_loop(); });
  return {};
}

void ProcessInstance::start_deferred(std::function<Result<SpawnedProcess>()> obtain) {
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  obtain_ = std::move(obtain);
  init_deadline_ = std::chrono::steady_clock::now() + init_timeout(setup_.spec);
  io_thread_ = std::thread([this] { io_loop(); });
}

// A wait status that reads "exited with code 1", for an instance whose process never ran.
constexpr int kExitedWithOne = 1 << 8;

bool ProcessInstance::adopt(std::function<Result<SpawnedProcess>()>& obtain) {
  auto proc = obtain();
  obtain = nullptr;
  if (!proc) {
    Reply error;
    error.error_type = "LaunchError";
    error.error_message = proc.error().message;
    fail_init(std::move(error), /*kill=*/false);
    {
      std::lock_guard lock(mu_);
      reaped_ = true;
    }
    exit_sequence(kExitedWithOne);
    return false;
  }
  std::shared_ptr<void> api = setup_.open_api ? setup_.open_api(proc->pid) : nullptr;
  std::lock_guard lock(mu_);
  proc_ = std::move(*proc);
  pid_ = proc_.pid;
  api_listener_ = std::move(api);
  if (requested_) ::kill(-proc_.pid, SIGKILL);  // stopped while it was being obtained
  return true;
}

Reply ProcessInstance::init_timeout_reply() const {
  Reply error;
  error.outcome = Outcome::kInitError;
  error.error_type = "Timeout";
  error.error_message = fmt::format("init did not finish within {:.2f} s",
                                    init_timeout(setup_.spec).count() / 1000.0);
  return error;
}

int ProcessInstance::reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

void ProcessInstance::shutdown() {
  if (!io_thread_.joinable()) {
    return;
  }
  kill_group(true);
  if (io_thread_.get_id() == std::this_thread::get_id()) {
    io_thread_.detach();  // destroyed from its own callback: the thread ends right after
  } else {
    io_thread_.join();
  }
  std::vector<std::thread> late;
  {
    std::lock_guard lock(mu_);
    late.swap(late_threads_);
  }
  for (auto& t : late) {
    t.join();
  }
}

void ProcessInstance::stop() { kill_group(true); }

void ProcessInstance::kill_group(bool requested) {
  if (requested) {
    requested_ = true;
  }
  // Once reaped the pid may be reused, so only signal while the I/O thread has not reaped.
  std::lock_guard lock(mu_);
  killed_ = true;
  thaw_locked();  // under v1 a frozen process does not die until thawed
  if (!reaped_ && proc_.pid > 0) {
    ::kill(-proc_.pid, SIGKILL);
  }
}

void ProcessInstance::schedule_freeze_locked() {
  if (setup_.freezer && setup_.freeze_after.count() > 0 && ready_ && !killed_) {
    freeze_at_ = std::chrono::steady_clock::now() + setup_.freeze_after;
  }
}

void ProcessInstance::thaw_locked() {
  freeze_at_.reset();
  if (frozen_ && setup_.freezer) {
    setup_.freezer->thaw();
    frozen_ = false;
  }
}

void ProcessInstance::freeze_if_idle() {
  std::lock_guard lock(mu_);
  if (!freeze_at_ || std::chrono::steady_clock::now() < *freeze_at_) return;
  freeze_at_.reset();
  if (pending_.empty() && !frozen_ && !killed_ && setup_.freezer) {
    frozen_ = setup_.freezer->freeze();
  }
}

int64_t ProcessInstance::pss_bytes() const {
  if (setup_.cgroup) {
    int64_t total = 0;
    for (pid_t pid : setup_.cgroup->pids()) {
      total += pss_of(pid);
    }
    return total;
  }
  pid_t pid = pid_;
  return pid > 0 ? pss_of(pid) : 0;
}

std::optional<uint32_t> ProcessInstance::add_pending(const Invocation& inv,
                                                     ReplyHandler handler) {
  std::unique_lock lock(mu_);
  if (exited_) {
    // Callbacks never run on the caller's thread, so report from a thread of our own.
    late_threads_.emplace_back([handler = std::move(handler)]() mutable {
      Reply reply;
      reply.outcome = Outcome::kCrash;
      reply.error_type = "Crash";
      reply.error_message = "the instance has exited";
      call_done(handler, std::move(reply));
    });
    return std::nullopt;
  }
  thaw_locked();  // before the caller sends it anything
  uint32_t slot = next_slot_++;
  Pending& p = pending_[slot];
  p.request_id = inv.request_id;
  p.handler = std::move(handler);
  p.timeout = inv.timeout;
  p.added = std::chrono::steady_clock::now();
  p.began = p.added;
  p.deadline = p.added + inv.timeout;
  if (serial_ && pending_.size() > 1) {
    p.started = false;
    p.deadline = SteadyTime::max();
  }
  lock.unlock();
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));  // the watchdog has a new deadline
  (void)n;
  return slot;
}

void ProcessInstance::wake_io() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
  (void)n;
}

std::optional<ProcessInstance::Pending> ProcessInstance::take_pending(uint32_t slot) {
  std::unique_lock lock(mu_);
  auto it = pending_.find(slot);
  if (it == pending_.end()) {
    return std::nullopt;
  }
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (!pending_.empty()) return p;
  schedule_freeze_locked();
  bool wake = freeze_at_ && std::this_thread::get_id() != io_thread_id_.load();
  lock.unlock();
  if (wake) wake_io();  // the I/O thread sleeps until its nearest deadline, now the freeze
  return p;
}

ProcessInstance::Pending* ProcessInstance::find_pending(uint32_t slot) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(slot);
  return it == pending_.end() ? nullptr : &it->second;
}

void ProcessInstance::finish(uint32_t slot, Reply reply) {
  if (auto p = take_pending(slot)) {
    reply.waited = waited(p->added, p->began, p->started);
    call_done(p->handler, std::move(reply));
  }
}

void ProcessInstance::finish_and_start_next(uint32_t slot, Reply reply) {
  auto p = take_pending(slot);
  start_next_waiting();
  if (p) {
    reply.waited = waited(p->added, p->began, p->started);
    call_done(p->handler, std::move(reply));
  }
}

void ProcessInstance::start_next_waiting() {
  std::lock_guard lock(mu_);
  for (auto& [slot, p] : pending_) {
    if (p.started) return;  // one is running already
    p.started = true;
    p.began = std::chrono::steady_clock::now();
    p.deadline = p.began + p.timeout;
    return;
  }
}

void ProcessInstance::mark_ready() {
  if (ready_.exchange(true)) return;
  // Init ran unthrottled, as Lambda boosts it; from now on the instance gets its share.
  if (setup_.cpu_cgroup) setup_.cpu_cgroup->limit();
  {
    std::lock_guard lock(mu_);
    if (pending_.empty()) schedule_freeze_locked();
  }
  if (!init_reported_) setup_.observer->on_ready(setup_.id);
}

void ProcessInstance::fail_init(Reply error, bool kill) {
  if (!ready_ && !init_reported_.exchange(true)) {
    error.outcome = Outcome::kInitError;
    setup_.observer->on_init_failed(setup_.id, error);
  }
  if (kill) kill_group(false);
}

bool ProcessInstance::wait_for_exit(milliseconds limit) {
  std::unique_lock lock(mu_);
  return exit_cv_.wait_for(lock, limit, [this] { return exited_; });
}

std::string ProcessInstance::untagged_request_id() { return {}; }

std::string ProcessInstance::sole_request_id() {
  std::lock_guard lock(mu_);
  return pending_.size() == 1 ? pending_.begin()->second.request_id : std::string();
}

std::optional<milliseconds> ProcessInstance::poll_timeout() {
  auto now = std::chrono::steady_clock::now();
  std::optional<SteadyTime> next;
  if (!ready_) {
    next = init_deadline_;
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& [slot, p] : pending_) {
      if (!next || p.deadline < *next) next = p.deadline;
    }
    if (freeze_at_ && (!next || *freeze_at_ < *next)) next = freeze_at_;
  }
  std::optional<milliseconds> wait;
  if (next) {
    wait = std::max(milliseconds(0),
                    std::chrono::ceil<milliseconds>(*next - now) + milliseconds(1));
  }
  if (auto tick = tick_interval(); tick && (!wait || *tick < *wait)) {
    wait = tick;
  }
  if (!proc_.pidfd.valid() && (!wait || *wait > milliseconds(20))) {
    wait = milliseconds(20);  // no pidfd: notice the exit by polling waitpid
  }
  return wait;
}

void ProcessInstance::check_deadlines() {
  auto now = std::chrono::steady_clock::now();
  if (!ready_ && now >= init_deadline_) fail_init(init_timeout_reply());
  std::vector<uint32_t> expired;
  {
    std::lock_guard lock(mu_);
    for (const auto& [slot, p] : pending_) {
      if (p.deadline <= now) expired.push_back(slot);
    }
  }
  for (uint32_t slot : expired) {
    if (auto p = take_pending(slot)) {
      timed_out_ = true;
      kill_group(true);
      Reply reply;
      reply.outcome = Outcome::kTimeout;
      reply.error_type = "Timeout";
      reply.error_message = timeout_message(p->timeout);
      reply.streamed = p->streamed;
      reply.waited = waited(p->added, p->began, p->started);
      call_done(p->handler, std::move(reply));
    }
  }
}

bool ProcessInstance::read_output(int fd, LineSplitter& splitter, const char* stream) {
  char buf[16384];
  std::string timestamp = rfc3339_now();
  std::optional<std::string> fallback_id;
  auto on_line = [&](const LogLine& line) {
    std::string_view rid = line.request_id;
    if (rid.empty()) {
      if (!fallback_id) fallback_id = untagged_request_id();
      rid = *fallback_id;
    }
    setup_.log.add(timestamp, rid, stream, line.text);
  };
  ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n > 0) {
    splitter.feed(std::string_view(buf, static_cast<size_t>(n)), on_line);
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    splitter.finish(on_line);
  }
  setup_.log.flush();
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

bool ProcessInstance::poll_once(std::optional<milliseconds> wait) {
  pollfd fds[5] = {
      {stdout_eof_ ? -1 : proc_.stdout_fd.get(), POLLIN, 0},
      {stderr_eof_ ? -1 : proc_.stderr_fd.get(), POLLIN, 0},
      {wake_fd_.get(), POLLIN, 0},
      {control_fd(), POLLIN, 0},
      {proc_.pidfd.get(), POLLIN, 0},
  };
  int rc = ::poll(fds, 5, wait ? static_cast<int>(wait->count()) : -1);
  KUMO_CHECK(rc >= 0 || errno == EINTR);
  if (fds[0].revents && !read_output(fds[0].fd, stdout_lines_, "stdout")) stdout_eof_ = true;
  if (fds[1].revents && !read_output(fds[1].fd, stderr_lines_, "stderr")) stderr_eof_ = true;
  if (fds[2].revents) {
    uint64_t count = 0;
    ssize_t n = ::read(wake_fd_.get(), &count, sizeof(count));
    (void)n;
    on_woken();
  }
  if (fds[3].revents) on_control_readable();
  serve_output_sync();
  return fds[4].revents != 0;
}

bool ProcessInstance::output_pending() const {
  int queued = 0;
  for (const UniqueFd* fd : {&proc_.stdout_fd, &proc_.stderr_fd}) {
    int n = 0;
    if (fd->valid() && ioctl(fd->get(), FIONREAD, &n) == 0) queued += n;
  }
  return queued > 0;
}

void ProcessInstance::sync_output() {
  if (!output_pending()) return;  // the common case costs two ioctls, no thread hop
  uint64_t ticket;
  {
    std::lock_guard lock(mu_);
    ticket = ++sync_requested_;
  }
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
  (void)n;
  std::unique_lock lock(mu_);
  exit_cv_.wait_for(lock, milliseconds(100), [&] { return sync_done_ >= ticket || exited_; });
}

void ProcessInstance::serve_output_sync() {
  uint64_t requested;
  {
    std::lock_guard lock(mu_);
    requested = sync_requested_;
    if (requested == sync_done_) return;
  }
  // Read what is queued now (the requester saw it queued before asking), within bounds so
  // that a process writing without pause cannot hold the I/O thread here.
  for (int round = 0; round < 64 && output_pending(); ++round) {
    if (!stdout_eof_ && !read_output(proc_.stdout_fd.get(), stdout_lines_, "stdout")) {
      stdout_eof_ = true;
    }
    if (!stderr_eof_ && !read_output(proc_.stderr_fd.get(), stderr_lines_, "stderr")) {
      stderr_eof_ = true;
    }
  }
  {
    std::lock_guard lock(mu_);
    sync_done_ = requested;
  }
  exit_cv_.notify_all();
}

bool ProcessInstance::process_gone(bool pidfd_readable) {
  if (proc_.pidfd.valid()) {
    return pidfd_readable;
  }
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(proc_.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid != 0;
}

void ProcessInstance::io_loop() {
  io_thread_id_ = std::this_thread::get_id();
  if (obtain_ && !adopt(obtain_)) return;
  on_started();
  while (true) {
    bool pidfd_readable = poll_once(poll_timeout());
    if (!ready_ && !init_reported_) on_tick();
    check_deadlines();
    if (process_gone(pidfd_readable)) break;
    freeze_if_idle();
  }
  int status = 0;
  {
    // Kill what the main process left in its group while its zombie still holds the pid.
    std::lock_guard lock(mu_);
    ::kill(-proc_.pid, SIGKILL);
    status = reap(proc_.pid);
    reaped_ = true;
  }
  drain_after_exit();
  exit_sequence(status);
}

void ProcessInstance::drain_after_exit() {
  // The last frames (a result, an OOM report) and log lines may still sit in the pipes.
  // A process that escaped the group (setsid) could hold them open: give up after a while.
  auto until = std::chrono::steady_clock::now() + milliseconds(500);
  proc_.pidfd.reset();
  while (!stdout_eof_ || !stderr_eof_ || control_open()) {
    auto left = std::chrono::ceil<milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    poll_once(left);
  }
}

Reply ProcessInstance::crash_reply(const ExitInfo& info) const {
  Reply reply;
  if (info.oom) {
    reply.outcome = Outcome::kOom;
    reply.error_type = "OutOfMemory";
    reply.error_message =
        fmt::format("the function ran out of memory (limit {} MB)", setup_.spec.memory_mb);
  } else if (info.requested) {
    reply.outcome = Outcome::kCrash;
    reply.error_type = "Crash";
    reply.error_message = timed_out_ ? "the instance was killed: another invocation timed out"
                                     : "the instance was stopped";
  } else {
    reply.outcome = Outcome::kCrash;
    reply.error_type = "Crash";
    reply.error_message =
        info.signal != 0
            ? fmt::format("the process was killed by signal {} ({})", info.signal,
                          strsignal(info.signal))
            : fmt::format("the process exited with code {}", info.exit_code);
  }
  return reply;
}

void ProcessInstance::exit_sequence(int status) {
  ExitInfo info;
  info.requested = requested_;
  if (WIFEXITED(status)) info.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) info.signal = WTERMSIG(status);
  info.oom = oom_reported_ || (setup_.cgroup && setup_.cgroup->oom_killed());
  std::map<uint32_t, Pending> in_flight;
  // Taken under the lock, so that no later freeze or thaw (stop(), the idle sweep) reaches
  // a freezer that is gone; it is released below, in its turn.
  std::unique_ptr<FreezerCgroup> freezer;
  {
    std::lock_guard lock(mu_);
    exited_ = true;
    in_flight.swap(pending_);
    freeze_at_.reset();
    frozen_ = false;
    freezer = std::move(setup_.freezer);
  }
  exit_cv_.notify_all();
  Reply crash = crash_reply(info);
  for (auto& [slot, p] : in_flight) {
    Reply reply = crash;
    reply.streamed = p.streamed;
    reply.started = p.started;
    reply.waited = waited(p.added, p.began, p.started);
    call_done(p.handler, std::move(reply));
  }
  if (!ready_ && !init_reported_.exchange(true)) {
    Reply error = crash;
    error.outcome = Outcome::kInitError;
    error.error_message += " before it was ready";
    setup_.observer->on_init_failed(setup_.id, error);
  }
  on_process_gone();
  setup_.credential.reset();
  // The freezer first: under v1 what is left in the others can only die once thawed.
  freezer.reset();
  setup_.cgroup.reset();
  setup_.pids_cgroup.reset();
  setup_.cpu_cgroup.reset();
  remove_workdir(setup_.workdir);
  setup_.observer->on_exit(setup_.id, info);
}

}  // namespace kumo::executor
