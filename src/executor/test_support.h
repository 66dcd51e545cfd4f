// Helpers for the executor's tests: a temp folder, an observer and a reply recorder that
// tests can wait on (with a generous cap, so slow machines only make them slower).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "executor/instance.h"
#include "executor/process_launcher.h"

namespace kumo::executor::testing {

inline constexpr std::chrono::seconds kWaitCap{30};

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `content` to path()/relative, creating folders.
  void write(const std::string& relative, const std::string& content) const;

 private:
  std::string path_;
};

std::string read_file(const std::string& path);

class RecordingObserver : public InstanceObserver {
 public:
  void on_ready(const std::string& id) override;
  void on_init_failed(const std::string& id, const Reply& error) override;
  void on_exit(const std::string& id, const ExitInfo& info) override;

  bool wait_ready();
  std::optional<Reply> wait_init_failed();
  std::optional<ExitInfo> wait_exit();
  bool exited();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  std::optional<Reply> init_error_;
  std::optional<ExitInfo> exit_;
};

// Records one invocation's callbacks.
class ReplyRecorder {
 public:
  ReplyRecorder();
  ReplyHandler handler();
  std::optional<Reply> wait();
  std::string content_type();
  std::vector<std::string> chunks();
  int done_calls();

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::string content_type;
    std::vector<std::string> chunks;
    std::optional<Reply> reply;
    int done_calls = 0;
  };
  std::shared_ptr<State> state_;
};

// Options whose cgroups (with `use_cgroups`) live beside the server's ("<root>-test"), never
// in them.
LauncherOptions launcher_options(const std::string& runtime_dir, bool use_cgroups);

Invocation make_invocation(const std::string& payload,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace kumo::executor::testing
