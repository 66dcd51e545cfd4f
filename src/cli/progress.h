// ProgressNote: a "still working" line on stderr for waits longer than a second.
//
// Created before a blocking call and destroyed after it. If the wait passes one second
// and stderr is a terminal, a helper thread shows "<text>... 3s", updated each second,
// and the destructor erases it; a quick call or a pipe sees nothing. Owned by one
// scope; the destructor joins the thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace kumo::cli {

class ProgressNote {
 public:
  explicit ProgressNote(std::string text,
                        std::chrono::milliseconds delay = std::chrono::seconds(1));
  ~ProgressNote();
  ProgressNote(const ProgressNote&) = delete;
  ProgressNote& operator=(const ProgressNote&) = delete;

 private:
  void run();

  std::string text_;
  std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace kumo::cli
