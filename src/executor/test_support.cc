#include "executor/test_support.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/ids.h"
#include "executor/sandbox.h"

namespace kumo::executor::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  path_ = (fs::temp_directory_path() / ("kumo-executor-test-" + new_short_id())).string();
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void TempDir::write(const std::string& relative, const std::string& content) const {
  fs::path p = fs::path(path_) / relative;
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void RecordingObserver::on_ready(const std::string&) {
  std::lock_guard lock(mu_);
  ready_ = true;
  cv_.notify_all();
}

void RecordingObserver::on_init_failed(const std::string&, const Reply& error) {
  std::lock_guard lock(mu_);
  init_error_ = error;
  cv_.notify_all();
}

void RecordingObserver::on_exit(const std::string&, const ExitInfo& info) {
  std::lock_guard lock(mu_);
  exit_ = info;
  cv_.notify_all();
}

bool RecordingObserver::wait_ready() {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, kWaitCap, [this] { return ready_ || init_error_ || exit_; });
  return ready_;
}

std::optional<Reply> RecordingObserver::wait_init_failed() {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, kWaitCap, [this] { return init_error_.has_value() || ready_; });
  return init_error_;
}

std::optional<ExitInfo> RecordingObserver::wait_exit() {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, kWaitCap, [this] { return exit_.has_value(); });
  return exit_;
}

bool RecordingObserver::exited() {
  std::lock_guard lock(mu_);
  return exit_.has_value();
}

ReplyRecorder::ReplyRecorder() : state_(std::make_shared<State>()) {}

ReplyHandler ReplyRecorder::handler() {
  ReplyHandler h;
  h.on_stream_start = [s = state_](std::string_view ct) {
    std::lock_guard lock(s->mu);
    s->content_type = std::string(ct);
  };
  h.on_chunk = [s = state_](std::string_view chunk) {
    std::lock_guard lock(s->mu);
    s->chunks.emplace_back(chunk);
  };
  h.on_done = [s = state_](Reply reply) {
    std::lock_guard lock(s->mu);
    s->reply = std::move(reply);
    ++s->done_calls;
    s->cv.notify_all();
  };
  return h;
}

std::optional<Reply> ReplyRecorder::wait() {
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, kWaitCap, [this] { return state_->reply.has_value(); });
  return state_->reply;
}

std::string ReplyRecorder::content_type() {
  std::lock_guard lock(state_->mu);
  return state_->content_type;
}

std::vector<std::string> ReplyRecorder::chunks() {
  std::lock_guard lock(state_->mu);
  return state_->chunks;
}

int ReplyRecorder::done_calls() {
  std::lock_guard lock(state_->mu);
  return state_->done_calls;
}

LauncherOptions launcher_options(const std::string& runtime_dir, bool use_cgroups) {
  LauncherOptions o;
  o.runtime_dir = runtime_dir;
  o.use_cgroups = use_cgroups;
  o.cgroup_root = default_cgroup_root() + "-test";
  // Empty (no such hierarchy) stays empty.
  auto beside = [](const std::string& root) { return root.empty() ? root : root + "-test"; };
  o.pids_cgroup_root = beside(default_pids_cgroup_root());
  o.cpu_cgroup_root = beside(default_cpu_cgroup_root());
  o.freezer_cgroup_root = beside(default_freezer_cgroup_root());
  // In the box where this machine can build it (as kumo serve); plainly where it cannot
  // (a chroot), instead of every launch being refused.
  o.sandbox = sandbox_unavailable_reason().empty();
  return o;
}

Invocation make_invocation(const std::string& payload, std::chrono::milliseconds timeout) {
  Invocation inv;
  inv.request_id = new_request_id();
  inv.payload = payload;
  inv.timeout = timeout;
  return inv;
}

}  // namespace kumo::executor::testing
