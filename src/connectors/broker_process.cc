#include "connectors/broker_process.h"

namespace kumo::connectors::testing {

Result<std::string> RecordingSink::publish(const std::string& topic, events::Message message) {
  std::lock_guard lock(mu_);
  ++attempts_;
  if (refuse_ > 0) {
    --refuse_;
    return make_error(ErrorCode::kUnavailable, "the test's sink refused it");
  }
  published_.push_back({topic, std::move(message)});
  cv_.notify_all();
  return std::to_string(published_.size());
}

void RecordingSink::refuse_next(int n) {
  std::lock_guard lock(mu_);
  refuse_ = n;
}

bool RecordingSink::wait_for(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return published_.size() >= n; });
}

std::vector<RecordingSink::Published> RecordingSink::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

int RecordingSink::attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

}  // namespace kumo::connectors::testing
