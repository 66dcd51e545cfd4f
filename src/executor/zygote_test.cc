// Instances forked from a version's template (zygote): real python3 processes, under both
// ways of limiting memory.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "executor/process_launcher.h"
#include "executor/test_support.h"

namespace kumo::executor {
namespace {

using nlohmann::json;
using testing::RecordingObserver;
using testing::ReplyRecorder;

class ZygoteTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    LauncherOptions o = testing::launcher_options(dir_.path() + "/runtime", GetParam());
    o.sandbox = false;  // these look at the process from the host; sandbox_test.cc: the box
    auto launcher = ProcessLauncher::create(o);
    ASSERT_TRUE(launcher) << launcher.error().message;
    launcher_ = std::move(*launcher);
    if (GetParam() && !launcher_->uses_cgroups()) GTEST_SKIP() << "no writable memory cgroup";
  }

  LaunchSpec spec(const std::string& code) {
    dir_.write("code/main.py", code);
    LaunchSpec s;
    s.function = "fn";
    s.version = 1;
    s.handler = "main.handle";
    s.code_dir = dir_.path() + "/code";
    s.instances_root = dir_.path() + "/instances";
    s.log_path = dir_.path() + "/logs/fn.log";
    return s;
  }

  // Launches and waits until ready, with an observer of its own. With `zygote` the
  // version's template is started and ready first, so the instance is forked.
  std::unique_ptr<Instance> start(const LaunchSpec& s) {
    if (s.zygote) {
      EXPECT_TRUE(launcher_->start_template(s, testing::kWaitCap));
    }
    observers_.push_back(std::make_unique<RecordingObserver>());
    auto instance = launcher_->launch(s, *observers_.back());
    EXPECT_TRUE(instance) << instance.error().message;
    if (!instance) return nullptr;
    EXPECT_TRUE(observers_.back()->wait_ready());
    return std::move(*instance);
  }

  json call(Instance& instance, const std::string& payload = "{}") {
    ReplyRecorder recorder;
    instance.invoke(testing::make_invocation(payload), recorder.handler());
    auto reply = recorder.wait();
    EXPECT_TRUE(reply);
    if (!reply) return nullptr;
    EXPECT_EQ(reply->outcome, Outcome::kOk) << reply->error_type << ": " << reply->error_message;
    return json::parse(reply->body, nullptr, false);
  }

  std::string log() { return testing::read_file(dir_.path() + "/logs/fn.log"); }

  testing::TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_;
  std::vector<std::unique_ptr<RecordingObserver>> observers_;
};

bool process_exists(int pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); }

// How many inits ran, by the "init" lines they printed to the function's log (an instance
// cannot write a marker beside the test: its /tmp is its own). Waits up to 5 s for `want`.
int inits_logged(const std::function<std::string()>& read_log, int want) {
  int count = 0;
  for (int i = 0; i < 250; ++i) {
    std::string text = read_log();
    count = 0;
    for (size_t at = text.find(" stdout init\n"); at != std::string::npos;
         at = text.find(" stdout init\n", at + 1)) {
      ++count;
    }
    if (count >= want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return count;
}

TEST_P(ZygoteTest, InstancesAreForkedFromATemplateThatRanInitOnce) {
  LaunchSpec s = spec("import os\nprint('init')\n"
                      "def handle(event, context):\n"
                      "    return {'ppid': os.getppid(), 'pid': os.getpid()}\n");
  std::vector<std::unique_ptr<Instance>> instances;
  std::set<int> pids, parents;
  for (int i = 0; i < 3; ++i) {
    instances.push_back(start(s));
    ASSERT_TRUE(instances.back());
    json got = call(*instances.back());
    pids.insert(got["pid"].get<int>());
    parents.insert(got["ppid"].get<int>());
    EXPECT_GT(instances.back()->pss_bytes(), 0);
  }
  EXPECT_EQ(inits_logged([this] { return log(); }, 2), 1);
  EXPECT_EQ(pids.size(), 3u);
  ASSERT_EQ(parents.size(), 1u);  // one template
  EXPECT_NE(*parents.begin(), getpid());
}

// The template's spare is moved into the next instance's cgroups ahead of time; instances
// launched back to back (before a spare is prepared) join theirs on the way.
TEST_P(ZygoteTest, EachForkedInstanceRunsInItsOwnMemoryCgroup) {
  if (!GetParam()) GTEST_SKIP() << "no cgroups";
  LaunchSpec s = spec("def handle(event, context):\n"
                      "    for line in open('/proc/self/cgroup'):\n"
                      "        if ':memory:' in line or line.startswith('0::'):\n"
                      "            return line.strip()\n");
  std::vector<std::unique_ptr<Instance>> instances;
  std::set<std::string> groups;
  for (int i = 0; i < 5; ++i) {
    if (i < 3) std::this_thread::sleep_for(std::chrono::milliseconds(300));  // spare ready
    instances.push_back(start(s));
    ASSERT_TRUE(instances.back());
    std::string group = call(*instances.back()).get<std::string>();
    EXPECT_NE(group.find("kumo-test/"), std::string::npos) << group;
    EXPECT_EQ(group.find("zygote"), std::string::npos) << group;
    groups.insert(group);
  }
  EXPECT_EQ(groups.size(), 5u);
}

TEST_P(ZygoteTest, ZygoteFalseStartsAFreshInterpreter) {
  LaunchSpec s = spec("import os\nprint('init')\n"
                      "def handle(event, context):\n    return os.getppid()\n");
  s.zygote = false;
  auto a = start(s);
  auto b = start(s);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(call(*a).get<int>(), getpid());
  EXPECT_EQ(call(*b).get<int>(), getpid());
  EXPECT_EQ(inits_logged([this] { return log(); }, 2), 2);
}

TEST_P(ZygoteTest, EachInstanceGetsItsOwnRandomState) {
  LaunchSpec s = spec(
      "import random\nimport numpy\n"
      "def handle(event, context):\n"
      "    return [random.random(), float(numpy.random.random())]\n");
  s.memory_mb = 256;
  std::set<double> py, np;
  std::vector<std::unique_ptr<Instance>> instances;
  for (int i = 0; i < 3; ++i) {
    instances.push_back(start(s));
    ASSERT_TRUE(instances.back());
    json got = call(*instances.back());
    py.insert(got[0].get<double>());
    np.insert(got[1].get<double>());
  }
  EXPECT_EQ(py.size(), 3u);
  EXPECT_EQ(np.size(), 3u);
}

TEST_P(ZygoteTest, DescriptorsOpenedInInitAreNotShared) {
  LaunchSpec s = spec(
      "import os, socket\n"
      "SOCK = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
      "FILE = open('/tmp/init.txt', 'w')\n"
      "def handle(event, context):\n"
      "    fds = {}\n"
      "    for name in os.listdir('/proc/self/fd'):\n"
      "        try:\n"
      "            fds[name] = os.readlink('/proc/self/fd/' + name)\n"
      "        except OSError:\n"
      "            pass\n"
      "    try:\n"
      "        SOCK.getsockname()\n"
      "        sock = 'usable'\n"
      "    except OSError as e:\n"
      "        sock = type(e).__name__\n"
      "    try:\n"
      "        FILE.write('x')\n"
      "        FILE.flush()\n"
      "        written = 'written'\n"
      "    except OSError as e:\n"
      "        written = type(e).__name__\n"
      "    return {'fds': fds, 'sock': sock, 'file': written}\n");
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = call(*instance);
  EXPECT_NE(got["sock"], "usable") << got;
  EXPECT_NE(got["file"], "written") << got;
  for (const auto& [fd, target] : got["fds"].items()) {
    if (std::stoi(fd) <= 3) continue;
    std::string t = target.get<std::string>();
    EXPECT_EQ(t.find("socket:"), std::string::npos) << fd << " -> " << t;
    EXPECT_EQ(t.find("init.txt"), std::string::npos) << fd << " -> " << t;
  }
}

TEST_P(ZygoteTest, AFirstLaunchRunsFreshWhileTheTemplateStarts) {
  LaunchSpec s = spec("import os, time\ntime.sleep(0.5)\n"
                      "def handle(event, context):\n    return os.getppid()\n");
  RecordingObserver observer;
  auto first = launcher_->launch(s, observer);
  ASSERT_TRUE(first);
  ASSERT_TRUE(observer.wait_ready());
  EXPECT_EQ(call(**first).get<int>(), getpid());
  auto forked = start(s);
  ASSERT_TRUE(forked);
  EXPECT_NE(call(*forked).get<int>(), getpid());
}

TEST_P(ZygoteTest, InitErrorReachesEveryWaitingInstanceWithItsTraceback) {
  LaunchSpec s = spec("import time\ntime.sleep(0.3)\nraise RuntimeError('no model file')\n");
  EXPECT_FALSE(launcher_->start_template(s, testing::kWaitCap));
  EXPECT_NE(log().find("stderr RuntimeError: no model file"), std::string::npos) << log();
  RecordingObserver first, second;
  auto a = launcher_->launch(s, first);
  auto b = launcher_->launch(s, second);
  ASSERT_TRUE(a && b);
  for (RecordingObserver* o : {&first, &second}) {
    auto error = o->wait_init_failed();
    ASSERT_TRUE(error);
    EXPECT_EQ(error->outcome, Outcome::kInitError);
    EXPECT_EQ(error->error_type, "RuntimeError");
    EXPECT_EQ(error->error_message, "no model file");
    ASSERT_TRUE(o->wait_exit());
  }
  EXPECT_NE(log().find("stderr RuntimeError: no model file"), std::string::npos) << log();
  EXPECT_NE(log().find("stderr Traceback (most recent call last):"), std::string::npos);
}

TEST_P(ZygoteTest, AnInstanceOverItsMemoryIsKilledAndTheOthersLive) {
  LaunchSpec s = spec(
      "MODEL = b'm' * (20 * 1024 * 1024)\n"
      "def handle(event, context):\n"
      "    if event:\n"
      "        blocks = [b'x' * (10 * 1024 * 1024) for _ in range(40)]\n"
      "    return len(MODEL)\n");
  s.memory_mb = 128;
  auto hog = start(s);
  auto other = start(s);
  ASSERT_TRUE(hog && other);
  ReplyRecorder recorder;
  hog->invoke(testing::make_invocation("true"), recorder.handler());
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kOom) << reply->error_type << ": " << reply->error_message;
  auto exit = observers_[0]->wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->oom);
  EXPECT_EQ(call(*other, "false").get<int>(), 20 * 1024 * 1024);
  auto third = start(s);  // the template lives on too
  ASSERT_TRUE(third);
  EXPECT_EQ(call(*third, "false").get<int>(), 20 * 1024 * 1024);
}

TEST_P(ZygoteTest, TimedOutInstanceIsKilledWithItsExitStatus) {
  auto instance = start(spec("import time\ndef handle(event, context):\n    time.sleep(60)\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder recorder;
  instance->invoke(testing::make_invocation("{}", std::chrono::milliseconds(300)),
                   recorder.handler());
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kTimeout);
  auto exit = observers_[0]->wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->requested);
  EXPECT_EQ(exit->signal, SIGKILL);
}

TEST_P(ZygoteTest, ThreadCountIsRestoredInTheChild) {
  if (!GetParam()) GTEST_SKIP() << "torch maps more address space than an RLIMIT_AS allows";
  // torch comes with `scripts/setup --bench` only: it is large, and this is its one test.
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-torch is not installed";
  }
  // Init runs a parallel op single-threaded; the instance runs them with two threads.
  LaunchSpec s = spec(
      "import os, torch\n"
      "INIT = torch.get_num_threads()\n"
      "torch.ones(256, 256) @ torch.ones(256, 256)\n"
      "def handle(event, context):\n"
      "    x = torch.ones(512, 512) @ torch.ones(512, 512)\n"
      "    return {'init': INIT, 'now': torch.get_num_threads(), 'sum': float(x[0][0]),\n"
      "            'env': os.environ.get('OMP_NUM_THREADS')}\n");
  s.env["OMP_NUM_THREADS"] = "2";
  s.memory_mb = 1024;
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = call(*instance);
  EXPECT_EQ(got["init"], 1) << got;
  EXPECT_EQ(got["now"], 2) << got;
  EXPECT_EQ(got["env"], "2") << got;
  EXPECT_EQ(got["sum"], 512.0) << got;
}

TEST_P(ZygoteTest, ADeadTemplateIsReplacedAndAReleasedOneExits) {
  LaunchSpec s = spec("import os\ndef handle(event, context):\n    return os.getppid()\n");
  auto a = start(s);
  ASSERT_TRUE(a);
  int first_template = call(*a).get<int>();
  ::kill(first_template, SIGKILL);
  for (int i = 0; i < 200 && process_exists(first_template); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto b = start(s);
  ASSERT_TRUE(b);
  int second_template = call(*b).get<int>();
  EXPECT_NE(second_template, first_template);
  EXPECT_NE(second_template, getpid());
  EXPECT_NE(call(*a).get<int>(), first_template) << "orphaned instances keep serving";
  b.reset();
  launcher_->release_version("fn", 1);
  for (int i = 0; i < 200 && process_exists(second_template); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(process_exists(second_template));
}

INSTANTIATE_TEST_SUITE_P(MemoryLimit, ZygoteTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Cgroup" : "Rlimit"; });

}  // namespace
}  // namespace kumo::executor
