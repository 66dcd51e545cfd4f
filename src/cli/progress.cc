#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace kumo::cli {

ProgressNote::ProgressNote(std::string text, std::chrono::milliseconds delay)
    : text_(std::move(text)), delay_(delay) {
  if (isatty(STDERR_FILENO) == 1) thread_ = std::thread([this] { run(); });
}

ProgressNote::~ProgressNote() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProgressNote::run() {
  auto start = std::chrono::steady_clock::now();
  auto next = start + delay_;
  bool shown = false;
  std::unique_lock lock(mu_);
  while (!cv_.wait_until(lock, next, [this] { return done_; })) {
    auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
    std::fprintf(stderr, "\r\033[K%s... %llds", text_.c_str(),
                 static_cast<long long>(seconds.count()));
    std::fflush(stderr);
    shown = true;
    next += std::chrono::seconds(1);
  }
  if (shown) {
    std::fputs("\r\033[K", stderr);  // leave the terminal as it was
    std::fflush(stderr);
  }
}

}  // namespace kumo::cli
