// An instance's CPU quota and its freezer, on real cgroups (as root; skipped where the
// controllers are missing): a spinning function gets about its share of a CPU, an idle
// instance is frozen with everything it left running, and nothing of it outlives it.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "executor/process_launcher.h"
#include "executor/test_support.h"

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using testing::RecordingObserver;
using testing::ReplyRecorder;

bool wait_until(const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + testing::kWaitCap;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

std::string trimmed(const std::string& path) {
  std::string text = testing::read_file(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::vector<pid_t> pids_in(const std::string& dir) {
  std::vector<pid_t> out;
  std::ifstream in(dir + "/cgroup.procs");
  for (pid_t pid = 0; in >> pid;) out.push_back(pid);
  return out;
}

// CPU time (ns) used so far by every thread of every process in the cgroup folder `dir`.
int64_t cpu_ns(const std::string& dir) {
  int64_t total = 0;
  for (pid_t pid : pids_in(dir)) {
    std::error_code ec;
    for (const auto& task : fs::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
      std::ifstream in(task.path() / "schedstat");
      int64_t ns = 0;
      if (in >> ns) total += ns;
    }
  }
  return total;
}

class ResourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto launcher = ProcessLauncher::create(options());
    ASSERT_TRUE(launcher) << launcher.error().message;
    launcher_ = std::move(*launcher);
  }

  LauncherOptions options() const {
    LauncherOptions o = testing::launcher_options(dir_.path() + "/runtime", true);
    o.group = group_;
    return o;
  }

  LaunchSpec spec(const std::string& code, bool zygote = false) {
    dir_.write("code/main.py", code);
    LaunchSpec s;
    s.function = "spin";
    s.version = 1;
    s.handler = "main.handle";
    s.zygote = zygote;
    s.code_dir = dir_.path() + "/code";
    s.instances_root = dir_.path() + "/instances";
    s.log_path = dir_.path() + "/logs/spin.log";
    return s;
  }

  std::unique_ptr<Instance> start(const LaunchSpec& s) {
    auto instance = launcher_->launch(s, observer_);
    EXPECT_TRUE(instance) << instance.error().message;
    if (!instance) return nullptr;
    EXPECT_TRUE(observer_.wait_ready()) << testing::read_file(s.log_path);
    return std::move(*instance);
  }

  json call(Instance& instance, const std::string& payload,
            milliseconds timeout = std::chrono::seconds(20)) {
    ReplyRecorder recorder;
    instance.invoke(testing::make_invocation(payload, timeout), recorder.handler());
    auto reply = recorder.wait();
    EXPECT_TRUE(reply && reply->outcome == Outcome::kOk)
        << (reply ? reply->error_message : "no reply");
    return reply && reply->outcome == Outcome::kOk ? json::parse(reply->body) : json();
  }

  // The instance's folder in a hierarchy: v1's own root, else (v2) its memory cgroup.
  std::string folder(const std::string& v1_root, const std::string& id) const {
    std::string dir = v1_root + "/" + group_ + "/" + id;
    return fs::exists(dir) ? dir : options().cgroup_root + "/" + group_ + "/" + id;
  }
  std::string freezer_dir(const std::string& id) const {
    return folder(options().freezer_cgroup_root, id);
  }
  bool frozen(const std::string& id) const {
    std::string dir = freezer_dir(id);
    if (fs::exists(dir + "/freezer.state")) return trimmed(dir + "/freezer.state") == "FROZEN";
    return testing::read_file(dir + "/cgroup.events").find("frozen 1") != std::string::npos;
  }

  // Every folder the instance had, in every hierarchy.
  std::vector<std::string> folders(const std::string& id) const {
    LauncherOptions o = options();
    std::vector<std::string> out;
    for (const std::string& root :
         {o.cgroup_root, o.pids_cgroup_root, o.cpu_cgroup_root, o.freezer_cgroup_root}) {
      if (!root.empty()) out.push_back(root + "/" + group_ + "/" + id);
    }
    return out;
  }

  std::string group_ = "resources-" + new_short_id();
  testing::TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_;
  RecordingObserver observer_;
};

constexpr const char* kSpinner = R"(import time
def handle(event, context):
    c0, w0 = time.process_time(), time.monotonic()
    while time.monotonic() - w0 < event['seconds']:
        pass
    return {'cpu': time.process_time() - c0, 'wall': time.monotonic() - w0}
)";

class CpuQuotaTest : public ResourcesTest, public ::testing::WithParamInterface<bool> {};

// 128 MB is 128/1769 of a CPU (7.2%); unthrottled, a spinning loop takes what it can get.
// The bound is generous: three times its share.
TEST_P(CpuQuotaTest, ASpinningFunctionGetsAboutItsShareOfACpu) {
  if (!launcher_->limits_cpu()) GTEST_SKIP() << "no writable cpu cgroup";
  LaunchSpec s = spec(kSpinner, /*zygote=*/GetParam());
  if (GetParam()) {
    ASSERT_TRUE(launcher_->start_template(s, testing::kWaitCap));
  }
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = call(*instance, R"({"seconds": 2})");
  double share = static_cast<double>(cpu_quota_us(s.memory_mb, 1769)) / kCpuPeriodUs;
  EXPECT_NEAR(share, 0.072, 0.001);
  EXPECT_GT(got["cpu"].get<double>(), 0);
  EXPECT_LT(got["cpu"].get<double>(), 3 * share * got["wall"].get<double>()) << got;
}

INSTANTIATE_TEST_SUITE_P(Start, CpuQuotaTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Zygote" : "Fresh"; });

// Init waits for a file the test writes once it has seen the cgroup unthrottled; the code is
// bound at the task root (mount namespaces) or copied into it.
constexpr const char* kWaitForGo = R"(import os, time
until = time.monotonic() + 30
while not os.path.exists('go') and time.monotonic() < until:
    time.sleep(0.01)
)";

// An exec function is ready when its port accepts.
constexpr const char* kServeAfterGo = R"(
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), BaseHTTPRequestHandler).serve_forever()
)";

class InitBoostTest : public ResourcesTest, public ::testing::WithParamInterface<Runtime> {};

// Lambda boosts init: the quota applies once the instance is ready.
TEST_P(InitBoostTest, InitRunsUnthrottledAndTheQuotaAppliesOnceReady) {
  if (!launcher_->limits_cpu()) GTEST_SKIP() << "no writable cpu cgroup";
  LaunchSpec s = spec(std::string(kWaitForGo) + "def handle(event, context):\n    return {}\n");
  if (GetParam() == Runtime::kExec) {
    dir_.write("code/server.py", std::string(kWaitForGo) + kServeAfterGo);
    s.runtime = Runtime::kExec;
    s.handler = "exec /usr/bin/python3 server.py";
  }
  auto launched = launcher_->launch(s, observer_);
  ASSERT_TRUE(launched) << launched.error().message;
  std::string id = (*launched)->id();
  std::string dir = folder(options().cpu_cgroup_root, id);
  bool v1 = fs::exists(dir + "/cpu.cfs_quota_us");
  std::string quota_file = dir + (v1 ? "/cpu.cfs_quota_us" : "/cpu.max");
  std::string before = trimmed(quota_file);
  EXPECT_TRUE(before == "-1" || before.starts_with("max ")) << before;
  dir_.write("code/go", "");
  dir_.write("instances/" + id + "/go", "");
  ASSERT_TRUE(observer_.wait_ready()) << testing::read_file(s.log_path);
  int64_t quota = cpu_quota_us(s.memory_mb, 1769);  // 1447 for 128 MB
  EXPECT_EQ(trimmed(quota_file),
            v1 ? std::to_string(quota) : fmt::format("{} {}", quota, kCpuPeriodUs));
}

INSTANTIATE_TEST_SUITE_P(Runtime, InitBoostTest,
                         ::testing::Values(Runtime::kPython3, Runtime::kExec),
                         [](const auto& info) {
                           return info.param == Runtime::kExec ? "Exec" : "Python";
                         });

constexpr const char* kBackground = R"(import os
def handle(event, context):
    if event.get('spin'):
        os.system("sh -c 'while :; do :; done' &")
    return {}
)";

TEST_F(ResourcesTest, AnIdleInstanceIsFrozenWithWhatItLeftRunningAndThawedForTheNextCall) {
  if (!launcher_->freezes_idle()) GTEST_SKIP() << "no writable freezer cgroup";
  auto instance = start(spec(kBackground));
  ASSERT_TRUE(instance);
  std::string id = instance->id();
  call(*instance, R"({"spin": true})");
  std::string dir = freezer_dir(id);
  ASSERT_TRUE(wait_until([&] { return pids_in(dir).size() >= 2; }));  // the shim, the spinner
  ASSERT_TRUE(wait_until([&] { return frozen(id); }));
  int64_t before = cpu_ns(dir);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(cpu_ns(dir), before) << "a frozen instance used CPU";
  EXPECT_EQ(call(*instance, "{}"), json::object());  // thawed for it
  std::vector<pid_t> pids = pids_in(dir);
  instance->stop();
  ASSERT_TRUE(observer_.wait_exit());
  for (const std::string& folder : folders(id)) EXPECT_FALSE(fs::exists(folder)) << folder;
  for (pid_t pid : pids) {
    EXPECT_TRUE(wait_until([&] { return ::kill(pid, 0) != 0; })) << "process " << pid << " lives";
  }
}

constexpr const char* kEmptyJsonServer = R"(
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
class Empty(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Empty).serve_forever()
)";

// An exec function's replies are finished on its worker threads, not the I/O thread, which
// must still learn that the instance went idle.
TEST_F(ResourcesTest, AnIdleExecInstanceIsFrozenAndServesTheNextRequest) {
  if (!launcher_->freezes_idle()) GTEST_SKIP() << "no writable freezer cgroup";
  LaunchSpec s = spec("");
  dir_.write("code/server.py", kEmptyJsonServer);
  s.runtime = Runtime::kExec;
  s.handler = "exec /usr/bin/python3 server.py";
  auto instance = start(s);
  ASSERT_TRUE(instance);
  // A timeout past the wait: the I/O thread must not wait for the old deadline to look again.
  std::chrono::minutes timeout(5);
  EXPECT_EQ(call(*instance, "{}", timeout), json::object());
  ASSERT_TRUE(wait_until([&] { return frozen(instance->id()); }));
  EXPECT_EQ(call(*instance, "{}", timeout), json::object());
  ASSERT_TRUE(wait_until([&] { return frozen(instance->id()); }));
}

// Under v1 a frozen process does not die on SIGKILL until thawed.
TEST_F(ResourcesTest, StoppingAFrozenInstanceEndsItAndEverythingItStarted) {
  if (!launcher_->freezes_idle()) GTEST_SKIP() << "no writable freezer cgroup";
  auto instance = start(spec(kBackground));
  ASSERT_TRUE(instance);
  std::string id = instance->id();
  call(*instance, R"({"spin": true})");
  ASSERT_TRUE(wait_until([&] { return pids_in(freezer_dir(id)).size() >= 2; }));
  ASSERT_TRUE(wait_until([&] { return frozen(id); }));
  instance->stop();
  ASSERT_TRUE(observer_.wait_exit());
  for (const std::string& folder : folders(id)) EXPECT_FALSE(fs::exists(folder)) << folder;
}

// An instance that ends while Kumo holds it frozen (its processes killed from outside) can
// still be stopped, as the scheduler may: no freezer is left to thaw, and nothing crashes.
TEST_F(ResourcesTest, AFrozenInstanceKilledFromOutsideCanStillBeStopped) {
  if (!launcher_->freezes_idle()) GTEST_SKIP() << "no writable freezer cgroup";
  auto instance = start(spec(kBackground));
  ASSERT_TRUE(instance);
  std::string id = instance->id();
  call(*instance, "{}");
  ASSERT_TRUE(wait_until([&] { return frozen(id); }));
  // Thawed behind the instance's back (under v1 a frozen process cannot die), then killed.
  std::string dir = freezer_dir(id);
  bool v1 = fs::exists(dir + "/freezer.state");
  std::ofstream(dir + (v1 ? "/freezer.state" : "/cgroup.freeze")) << (v1 ? "THAWED" : "0");
  for (pid_t pid : pids_in(dir)) ::kill(pid, SIGKILL);
  ASSERT_TRUE(observer_.wait_exit());
  instance->stop();
  instance->stop();
}

TEST_F(ResourcesTest, FreezeAfterZeroNeverFreezes) {
  LauncherOptions o = options();
  o.freeze_after = milliseconds(0);
  auto launcher = ProcessLauncher::create(o);
  ASSERT_TRUE(launcher) << launcher.error().message;
  EXPECT_FALSE((*launcher)->freezes_idle());
  o.cpu_mb_per_vcpu = 0;
  launcher = ProcessLauncher::create(o);
  ASSERT_TRUE(launcher) << launcher.error().message;
  EXPECT_FALSE((*launcher)->limits_cpu());
}

// A server killed while an instance was frozen leaves it frozen in its cgroups; the next
// launcher of the same group thaws it so that it can be killed.
TEST_F(ResourcesTest, TheSweepEndsWhatAKilledServerLeftFrozen) {
  if (!launcher_->freezes_idle()) GTEST_SKIP() << "no writable freezer cgroup";
  std::string stale = options().freezer_cgroup_root + "/" + group_ + "/stale";
  if (!fs::exists(options().freezer_cgroup_root)) GTEST_SKIP() << "v2: killed without a thaw";
  fs::create_directories(stale);
  const char* argv[] = {"sleep", "600", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  std::ofstream(stale + "/cgroup.procs") << pid;
  std::ofstream(stale + "/freezer.state") << "FROZEN";
  ASSERT_TRUE(wait_until([&] { return trimmed(stale + "/freezer.state") == "FROZEN"; }));
  launcher_.reset();
  auto launcher = ProcessLauncher::create(options());
  ASSERT_TRUE(launcher) << launcher.error().message;
  EXPECT_FALSE(fs::exists(stale));
  int status = 0;
  bool reaped = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; });
  if (!reaped) {
    std::ofstream(stale + "/freezer.state") << "THAWED";
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  EXPECT_TRUE(reaped);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

}  // namespace
}  // namespace kumo::executor
