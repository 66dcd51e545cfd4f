#include "executor/python_instance.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/json.h"

namespace kumo::executor {
namespace {

using nlohmann::json;

std::string meta_string(const json& meta, const char* key) {
  auto it = meta.find(key);
  return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json parse_meta(const std::string& text) {
  // A function writes this frame: bound its depth, as copying a value recurses.
  if (text.empty()) return json::object();
  auto meta = parse_json(text);
  if (!meta || !meta->is_object()) return json::object();
  return std::move(*meta);
}

Reply error_reply(Outcome outcome, const json& meta) {
  Reply reply;
  reply.outcome = outcome;
  reply.error_type = meta_string(meta, "type");
  reply.error_message = meta_string(meta, "message");
  return reply;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// "neither exited nor signalled": the status of an instance whose template went away.
constexpr int kStatusUnknown = 0x7f;

}  // namespace

std::unique_ptr<Instance> PythonInstance::launch_forked(InstanceSetup setup,
                                                        std::shared_ptr<Zygote> zygote,
                                                        const std::string& python,
                                                        const std::string& shim_path,
                                                        std::vector<std::string> env,
                                                        int64_t rlimit_as_bytes,
                                                        pid_t prepared_pid) {
  std::vector<std::string> cgroup_procs = setup.cgroup_procs();
  std::unique_ptr<PythonInstance> instance(new PythonInstance(std::move(setup)));
  instance->cgroup_procs_ = std::move(cgroup_procs);
  instance->set_serial(instance->spec().concurrency == 1);
  instance->zygote_ = std::move(zygote);
  instance->python_ = python;
  instance->shim_path_ = shim_path;
  instance->env_ = std::move(env);
  instance->rlimit_as_bytes_ = rlimit_as_bytes;
  instance->prepared_pid_ = prepared_pid;
  PythonInstance* raw = instance.get();
  instance->start_deferred([raw] { return raw->obtain_process(); });
  return instance;
}

Result<SpawnedProcess> PythonInstance::obtain_process() {
  Zygote::State state = zygote_->wait([this] {
    return stop_requested() || std::chrono::steady_clock::now() >= init_deadline();
  });
  if (state == Zygote::State::kStarting) {
    if (!stop_requested()) fail_init(init_timeout_reply(), /*kill=*/false);
    return make_error(ErrorCode::kUnavailable, "the zygote did not finish init");
  }
  if (state == Zygote::State::kInitFailed) {
    fail_init(zygote_->init_error(), /*kill=*/false);
    return make_error(ErrorCode::kInvalidArgument, "init failed");
  }
  if (state == Zygote::State::kReady) {
    auto proc = fork_from_zygote();
    if (proc) return proc;
    spdlog::warn("executor: {} starts a fresh interpreter: {}", id(), proc.error().message);
  }
  zygote_.reset();
  return spawn_fresh();
}

Result<SpawnedProcess> PythonInstance::fork_from_zygote() {
  int pair[2], out[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return make_error(ErrorCode::kInternal, "socketpair failed");
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return make_error(ErrorCode::kInternal, "pipe failed");
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return make_error(ErrorCode::kInternal, "pipe failed");
  UniqueFd err_r(err[0]), err_w(err[1]);
  bool fresh = true;
  // With mounts, the code is at the template's task root in the namespace the child is
  // forked into; the instance's own folder is only seen from outside.
  const std::string& cwd = zygote_->task_root().empty() ? workdir() : zygote_->task_root();
  auto pid = zygote_->fork(id(), cwd, env_, theirs.get(), out_w.get(), err_w.get(), &fresh);
  if (!pid) return pid.error();
  if (!fresh && *pid == prepared_pid_) cgroup_procs_.clear();  // it is in them already
  SpawnedProcess proc;
  proc.pid = *pid;
  proc.pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, *pid, 0)));
  if (!proc.pidfd.valid()) {
    ::kill(*pid, SIGKILL);
    (void)zygote_->reap(*pid);
    return make_error(ErrorCode::kInternal, "pidfd_open failed for a forked instance");
  }
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  proc.stdout_fd = std::move(out_r);
  proc.stderr_fd = std::move(err_r);
  control_ = std::move(ours);
  return proc;
}

Result<SpawnedProcess> PythonInstance::spawn_fresh() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return make_error(ErrorCode::kInternal, "socketpair failed");
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  ProcessSpec ps;
  ps.argv = {python_, "-u", "-B", "-s", shim_path_};
  ps.env = env_;
  setup().place(ps);
  ps.rlimit_as_bytes = rlimit_as_bytes_;
  ps.control_fd = theirs.get();
  auto proc = spawn_process(ps);
  if (proc) control_ = std::move(ours);
  return proc;
}

int PythonInstance::reap(pid_t pid) {
  if (!zygote_) return ProcessInstance::reap(pid);
  return zygote_->reap(pid).value_or(kStatusUnknown);
}

Result<std::unique_ptr<Instance>> PythonInstance::launch(InstanceSetup setup,
                                                         const std::string& python,
                                                         const std::string& shim_path,
                                                         std::vector<std::string> env,
                                                         int64_t rlimit_as_bytes) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return make_error(ErrorCode::kInternal, "socketpair failed");
  }
  UniqueFd child_end(pair[1]);
  ProcessSpec ps;
  ps.argv = {python, "-u", "-B", "-s", shim_path};
  ps.env = std::move(env);
  setup.place(ps);
  // The interpreter's start-up is ours, not the function's: it may run before the process
  // is in its cgroups, and joining them (several ms in the kernel) overlaps with it. The
  // shim imports the function only after the START frame, sent once the process joined.
  std::vector<std::string> cgroup_procs = setup.cgroup_procs();
  ps.rlimit_as_bytes = rlimit_as_bytes;
  ps.control_fd = child_end.get();
  std::unique_ptr<PythonInstance> instance(new PythonInstance(std::move(setup)));
  instance->cgroup_procs_ = std::move(cgroup_procs);
  instance->set_serial(instance->spec().concurrency == 1);
  instance->control_.reset(pair[0]);
  if (auto started = instance->start(ps); !started) {
    return started.error();
  }
  return std::unique_ptr<Instance>(std::move(instance));
}

PythonInstance::~PythonInstance() {
  shutdown();
  if (pause_) {
    std::lock_guard lock(pause_->mu);
    pause_->owner = nullptr;
  }
}

void PythonInstance::on_started() {
  for (const std::string& procs : cgroup_procs_) {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    std::string text = std::to_string(pid());
    bool joined = fd >= 0 && ::write(fd, text.data(), text.size()) ==
                                 static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    if (!joined) {
      Reply error;
      error.outcome = Outcome::kInitError;
      error.error_type = "CgroupError";
      error.error_message = fmt::format("cannot place the instance in {}", procs);
      return fail_init(std::move(error));
    }
  }
  std::lock_guard lock(write_mu_);
  send_all(control_.get(), encode_frame(FrameType::kStart, 0, "", ""));
}

void PythonInstance::invoke(Invocation inv, ReplyHandler handler) {
  auto slot = add_pending(inv, std::move(handler));
  if (!slot) return;
  auto deadline = std::chrono::system_clock::now() + inv.timeout;
  json meta = {
      {"request_id", inv.request_id},
      {"deadline_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline.time_since_epoch())
                          .count()},
      {"timeout_ms", inv.timeout.count()},
      {"attempt", inv.attempt},
  };
  std::string frame = encode_frame(FrameType::kInvoke, *slot, meta.dump(), inv.payload);
  std::lock_guard lock(write_mu_);
  // A failed send means the shim is gone; the exit sequence finishes the invocation.
  send_all(control_.get(), frame);
}

void PythonInstance::on_control_readable() {
  // Frames are handled after each read, so that a paused stream leaves the rest unread in
  // the socket; a bounded number of reads per turn keeps the I/O thread's other work going.
  char buf[65536];
  for (int round = 0; round < 64 && !pause_ && !control_eof_; ++round) {
    ssize_t n = ::recv(control_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      reader_.append(std::string_view(buf, static_cast<size_t>(n)));
      handle_frames();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN) control_eof_ = true;
    break;
  }
}

void PythonInstance::handle_frames() {
  while (!pause_) {
    auto frame = reader_.next();
    if (!frame) break;
    handle(std::move(*frame));
  }
  if (reader_.corrupt()) {
    control_eof_ = true;
    kill_group(false);
  }
}

void PythonInstance::on_woken() {
  if (!pause_) return;
  {
    std::lock_guard lock(pause_->mu);
    if (!pause_->resumed) return;
    pause_->owner = nullptr;
  }
  pause_.reset();
  uint32_t slot = std::exchange(paused_slot_, 0);
  Pending* p = find_pending(slot);
  if (p != nullptr && p->handler.gone && p->handler.gone()) abandon(slot);
  handle_frames();
}

void PythonInstance::pause_if_full(uint32_t slot, Pending& p) {
  if (!p.handler.wait) return;
  auto pause = std::make_shared<Pause>();
  pause->owner = this;
  bool full = p.handler.wait([pause] {
    std::lock_guard lock(pause->mu);
    pause->resumed = true;
    if (pause->owner != nullptr) pause->owner->wake_io();
  });
  std::lock_guard lock(pause->mu);
  if (!full) {
    pause->owner = nullptr;
    return;
  }
  pause_ = std::move(pause);
  paused_slot_ = slot;
}

void PythonInstance::abandon(uint32_t slot) {
  Reply reply;
  reply.outcome = Outcome::kCrash;
  reply.error_type = "ClientClosed";
  reply.error_message = "the caller went away during the stream; the instance was stopped";
  reply.streamed = true;
  finish(slot, std::move(reply));
  stop();
}

void PythonInstance::handle(Frame frame) {
  if (frame.dropped_body) return handle_oversized(frame);
  switch (frame.type) {
    case FrameType::kReady:
      mark_ready();
      return;
    case FrameType::kInitError:
      fail_init(error_reply(Outcome::kInitError, parse_meta(frame.meta)), /*kill=*/false);
      return;
    case FrameType::kResult: {
      Reply reply;
      reply.content_type = meta_string(parse_meta(frame.meta), "content_type");
      if (reply.content_type.empty()) reply.content_type = "application/json";
      reply.body = std::move(frame.body);
      finish_and_start_next(frame.slot, std::move(reply));
      return;
    }
    case FrameType::kError: {
      Pending* p = find_pending(frame.slot);
      Reply reply = error_reply(Outcome::kError, parse_meta(frame.meta));
      reply.streamed = p && p->streamed;
      finish_and_start_next(frame.slot, std::move(reply));
      return;
    }
    case FrameType::kOom: {
      note_oom();
      Reply reply = error_reply(Outcome::kOom, parse_meta(frame.meta));
      reply.error_type = "OutOfMemory";
      reply.error_message = fmt::format("the function ran out of memory (limit {} MB)",
                                        spec().memory_mb);
      if (!ready()) fail_init(reply, /*kill=*/false);
      finish(frame.slot, std::move(reply));
      return;
    }
    default:
      handle_stream(frame);
  }
}

void PythonInstance::handle_stream(const Frame& frame) {
  Pending* p = find_pending(frame.slot);
  if (p == nullptr) return;  // finished already (timed out)
  if (frame.type == FrameType::kStreamStart) {
    p->streamed = true;
    p->content_type = meta_string(parse_meta(frame.meta), "content_type");
    if (p->handler.on_stream_start) p->handler.on_stream_start(p->content_type);
  } else if (frame.type == FrameType::kChunk) {
    if (p->handler.on_chunk) p->handler.on_chunk(frame.body);
    if (p->handler.gone && p->handler.gone()) return abandon(frame.slot);
    pause_if_full(frame.slot, *p);
  } else if (frame.type == FrameType::kStreamEnd) {
    Reply reply;
    reply.streamed = true;
    reply.content_type = p->content_type;
    finish_and_start_next(frame.slot, std::move(reply));
  }
}

}  // namespace kumo::executor

namespace kumo::executor {

void PythonInstance::handle_oversized(const Frame& frame) {
  Reply reply;
  reply.outcome = Outcome::kError;
  reply.error_type = std::string(kResultTooLarge);
  reply.error_message = fmt::format(
      "function result exceeds {} MB ({} bytes); return a generator to stream larger output",
      kMaxResultBytes / (1024 * 1024), *frame.dropped_body);
  if (frame.type == FrameType::kResult) {
    finish(frame.slot, std::move(reply));
    start_next_waiting();
    return;
  }
  // The shim splits streamed items into small frames: anything else this large breaks the
  // protocol, so the instance goes (the exit sequence fails what else is in flight).
  Pending* p = find_pending(frame.slot);
  reply.streamed = p && p->streamed;
  finish(frame.slot, std::move(reply));
  kill_group(false);
}

}  // namespace kumo::executor
