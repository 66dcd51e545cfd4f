// Watch: etcd's /v3/watch stream, made again every watch window (so that a destroyed Watch
// stops within one) and after any failure, each time from the first revision not reported.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/etcd.h"
#include "cluster/etcd_json.h"
#include "common/base64.h"

namespace kumo::cluster {
namespace {

constexpr size_t kMaxWatchLine = 64u << 20;

}  // namespace

Watch::Watch(const Etcd& etcd, std::string prefix, int64_t after_revision, Callback callback)
    : etcd_(etcd),
      prefix_(std::move(prefix)),
      next_revision_(after_revision + 1),
      callback_(std::move(callback)),
      thread_([this] { run(); }) {}

Watch::~Watch() {
  stopping_ = true;
  thread_.join();
}

void Watch::run() {
  size_t endpoint = 0;
  while (!stopping_) {
    http::Client client(etcd_.endpoints()[endpoint % etcd_.endpoints().size()]);
    auto watched = watch_once(client);
    if (watched || stopping_) continue;
    spdlog::debug("etcd watch on '{}': {}", prefix_, watched.error().message);
    ++endpoint;  // try the next member after a pause, as a broken member may be restarting
    for (int i = 0; i < 10 && !stopping_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// One watch request for one window. Ok when the window ended normally.
Result<void> Watch::watch_once(http::Client& client) {
  nlohmann::json create = {{"key", base64_encode(prefix_)},
                           {"range_end", base64_encode(etcd_json::range_end_of(prefix_))},
                           {"start_revision", std::to_string(next_revision_)}};
  std::string body = nlohmann::json{{"create_request", create}}.dump();
  std::string pending;
  Result<void> failed;
  auto on_data = [&](std::string_view data) {
    if (!failed) return;
    pending.append(data);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      auto line = etcd_json::parse_watch_line(std::string_view(pending).substr(0, nl));
      pending.erase(0, nl + 1);
      if (!line) {
        failed = line.error();
        return;
      }
      if (line->compact_revision != 0) {
        next_revision_ = line->compact_revision;
        callback_(WatchUpdate{{}, line->compact_revision, true});
        failed = make_error(ErrorCode::kUnavailable, "compacted; watching again");
        return;
      }
      if (line->update.events.empty()) continue;
      for (const auto& e : line->update.events) {
        next_revision_ = std::max(next_revision_, e.kv.mod_revision + 1);
      }
      callback_(line->update);
    }
    if (pending.size() > kMaxWatchLine) failed = make_error(ErrorCode::kTooLarge, "line too long");
  };
  auto r = client.stream("POST", "/v3/watch", body, {{"Content-Type", "application/json"}},
                         on_data, etcd_.watch_window_);
  if (!failed) return failed;
  if (r) return make_error(ErrorCode::kUnavailable, "the watch stream ended");
  if (r.error().code == ErrorCode::kTimeout) return {};  // the window is over
  return r.error();
}

}  // namespace kumo::cluster
