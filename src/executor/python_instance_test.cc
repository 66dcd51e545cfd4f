// Real python3 processes running the embedded shim, under both ways of limiting memory.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "executor/process_launcher.h"
#include "executor/test_support.h"

namespace kumo::executor {
namespace {

using nlohmann::json;
using testing::RecordingObserver;
using testing::ReplyRecorder;

class PythonInstanceTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto launcher = ProcessLauncher::create(options());
    ASSERT_TRUE(launcher) << launcher.error().message;
    launcher_ = std::move(*launcher);
    if (GetParam() && !launcher_->uses_cgroups()) GTEST_SKIP() << "no writable memory cgroup";
  }

  // Test cgroups live beside the server's, never in them.
  LauncherOptions options() const {
    LauncherOptions o = testing::launcher_options(dir_.path() + "/runtime", GetParam());
    o.sandbox = false;  // these look at the process from the host; sandbox_test.cc: the box
    return o;
  }

  LaunchSpec spec(const std::string& code) {
    dir_.write("code/main.py", code);
    LaunchSpec s;
    s.function = "echo";
    s.version = 3;
    s.handler = "main.handle";
    s.code_dir = dir_.path() + "/code";
    s.instances_root = dir_.path() + "/instances";
    s.log_path = dir_.path() + "/logs/echo.log";
    return s;
  }

  // Launches and waits until ready.
  std::unique_ptr<Instance> start(const LaunchSpec& s) {
    auto instance = launcher_->launch(s, observer_);
    EXPECT_TRUE(instance) << instance.error().message;
    if (!instance) return nullptr;
    EXPECT_TRUE(observer_.wait_ready());
    return std::move(*instance);
  }

  Reply call(Instance& instance, const Invocation& inv) {
    ReplyRecorder recorder;
    instance.invoke(inv, recorder.handler());
    auto reply = recorder.wait();
    EXPECT_TRUE(reply);
    return reply.value_or(Reply{});
  }

  std::string log() { return testing::read_file(dir_.path() + "/logs/echo.log"); }

  testing::TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_;
  RecordingObserver observer_;
};

TEST_P(PythonInstanceTest, EchoHandlerReturnsTheEventAsJson) {
  auto instance = start(spec("def handle(event, context):\n    return event\n"));
  ASSERT_TRUE(instance);
  Reply reply = call(*instance, testing::make_invocation(R"({"a": [1, 2], "b": "x"})"));
  EXPECT_EQ(reply.outcome, Outcome::kOk);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(json::parse(reply.body), json::parse(R"({"a": [1, 2], "b": "x"})"));
}

TEST_P(PythonInstanceTest, ModuleInitRunsOnceAcrossInvocations) {
  auto instance = start(spec(
      "INITS = 0\nINITS += 1\nCALLS = 0\n"
      "def handle(event, context):\n    global CALLS\n    CALLS += 1\n"
      "    return {'inits': INITS, 'calls': CALLS}\n"));
  ASSERT_TRUE(instance);
  Reply reply;
  for (int i = 0; i < 3; ++i) reply = call(*instance, testing::make_invocation("{}"));
  EXPECT_EQ(json::parse(reply.body), json::parse(R"({"inits": 1, "calls": 3})"));
}

TEST_P(PythonInstanceTest, ContextCarriesLambdaFields) {
  auto instance = start(spec(
      "def handle(event, context):\n"
      "    return {'id': context.aws_request_id, 'name': context.function_name,\n"
      "            'version': context.function_version, 'memory': context.memory_limit_in_mb,\n"
      "            'arn': context.invoked_function_arn, 'attempt': context.attempt,\n"
      "            'left': context.get_remaining_time_in_millis()}\n"));
  ASSERT_TRUE(instance);
  Invocation inv = testing::make_invocation("null", std::chrono::seconds(20));
  inv.attempt = 2;
  json got = json::parse(call(*instance, inv).body);
  EXPECT_EQ(got["id"], inv.request_id);
  EXPECT_EQ(got["name"], "echo");
  EXPECT_EQ(got["version"], "3");
  EXPECT_EQ(got["memory"], 128);
  EXPECT_NE(got["arn"].get<std::string>().find("function:echo"), std::string::npos);
  EXPECT_EQ(got["attempt"], 2);
  EXPECT_GT(got["left"].get<int>(), 0);
  EXPECT_LE(got["left"].get<int>(), 20000);
}

TEST_P(PythonInstanceTest, ATenantsFunctionKnowsItselfByItsPlainNameAndLogsUnderItsFullName) {
  LaunchSpec s = spec(
      "import os, sys\n"
      "def handle(event, context):\n"
      "    print('hello from acme', file=sys.stderr, flush=True)\n"
      "    return {'context': context.function_name, 'arn': context.invoked_function_arn,\n"
      "            'aws': os.environ.get('AWS_LAMBDA_FUNCTION_NAME'),\n"
      "            'kumo': os.environ.get('KUMO_FUNCTION_NAME')}\n");
  s.function = "acme~echo";
  s.log_path = dir_.path() + "/logs/acme~echo.log";
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = json::parse(call(*instance, testing::make_invocation("{}")).body);
  EXPECT_EQ(got["context"], "echo");
  EXPECT_EQ(got["aws"], "echo");
  EXPECT_EQ(got["kumo"], "echo");
  EXPECT_EQ(got["arn"].get<std::string>().find("acme"), std::string::npos) << got["arn"];
  instance->stop();
  ASSERT_TRUE(observer_.wait_exit());  // its output is drained into the log by then
  EXPECT_NE(testing::read_file(s.log_path).find("hello from acme"), std::string::npos);
}

TEST_P(PythonInstanceTest, RunsInItsOwnWorkingDirWithThePlatformEnvironment) {
  LaunchSpec s = spec(
      "import os\n"
      "def handle(event, context):\n"
      "    got = {k: os.environ.get(k) for k in ['HOME', 'TMPDIR', 'LAMBDA_TASK_ROOT',\n"
      "           'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'FOO']}\n"
      "    return got | {'cwd': os.getcwd(), 'tmp_exists': os.path.isdir(got['TMPDIR'])}\n");
  s.env["FOO"] = "bar";
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = json::parse(call(*instance, testing::make_invocation("{}")).body);
  std::string cwd = got["cwd"];
  EXPECT_EQ(cwd, dir_.path() + "/instances/" + instance->id());
  EXPECT_EQ(got["HOME"], cwd);
  EXPECT_EQ(got["LAMBDA_TASK_ROOT"], cwd);
  EXPECT_EQ(got["TMPDIR"], launcher_->uses_mounts() ? "/tmp" : cwd + "/tmp");
  EXPECT_EQ(got["tmp_exists"], true);
  EXPECT_EQ(got["AWS_LAMBDA_FUNCTION_NAME"], "echo");
  EXPECT_EQ(got["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
  EXPECT_EQ(got["FOO"], "bar");
  EXPECT_GT(instance->pss_bytes(), 0);
  instance->stop();
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->requested);
  EXPECT_FALSE(std::filesystem::exists(cwd));
}

TEST_P(PythonInstanceTest, RaisedExceptionIsAnErrorWithTracebackInTheLog) {
  auto instance = start(spec(
      "def handle(event, context):\n    raise ValueError('bad input: ' + event['x'])\n"));
  ASSERT_TRUE(instance);
  Invocation inv = testing::make_invocation(R"({"x": "y"})");
  Reply reply = call(*instance, inv);
  EXPECT_EQ(reply.outcome, Outcome::kError);
  EXPECT_EQ(reply.error_type, "ValueError");
  EXPECT_EQ(reply.error_message, "bad input: y");
  instance.reset();  // joins the reader, so the log is complete
  EXPECT_NE(log().find(inv.request_id + " stderr Traceback (most recent call last):"),
            std::string::npos)
      << log();
}

TEST_P(PythonInstanceTest, LogLinesAreTaggedWithTheRequestId) {
  auto instance = start(spec(
      "import sys\nprint('loading')\n"
      "def handle(event, context):\n"
      "    print('hello', event)\n    sys.stderr.write('warn\\n')\n    return None\n"));
  ASSERT_TRUE(instance);
  Invocation inv = testing::make_invocation("7");
  EXPECT_EQ(call(*instance, inv).body, "null");
  instance.reset();
  std::string text = log();
  EXPECT_NE(text.find(" - stdout loading\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" " + inv.request_id + " stdout hello 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" " + inv.request_id + " stderr warn\n"), std::string::npos) << text;
}

TEST_P(PythonInstanceTest, GeneratorStreamsChunksInOrder) {
  auto instance = start(spec(
      "def handle(event, context):\n"
      "    yield 'a'\n    yield b'b'\n    yield {'c': 1}\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder recorder;
  instance->invoke(testing::make_invocation("{}"), recorder.handler());
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kOk);
  EXPECT_TRUE(reply->streamed);
  EXPECT_EQ(recorder.content_type(), "text/plain");
  EXPECT_EQ(recorder.chunks(), (std::vector<std::string>{"a", "b", "{\"c\": 1}\n"}));
}

TEST_P(PythonInstanceTest, GeneratorOfDictsStreamsNewlineDelimitedJson) {
  auto instance = start(spec(
      "def handle(event, context):\n"
      "    for i in range(2):\n        yield {'i': i}\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder recorder;
  instance->invoke(testing::make_invocation("{}"), recorder.handler());
  ASSERT_TRUE(recorder.wait());
  EXPECT_EQ(recorder.content_type(), "application/x-ndjson");
  EXPECT_EQ(recorder.chunks(), (std::vector<std::string>{"{\"i\": 0}\n", "{\"i\": 1}\n"}));
}

TEST_P(PythonInstanceTest, AFullConsumerHoldsTheGeneratorBackUntilItResumes) {
  // 200 items of 64 KiB: far more than the control socket's buffers hold.
  // Outside /tmp, which an instance has to itself where it gets a mount namespace.
  std::string done = "/var/tmp/kumo-test-done-" + new_short_id();
  auto instance = start(spec(
      "def handle(event, context):\n"
      "    for i in range(200):\n        yield b'x' * 65536\n"
      "    open('" + done + "', 'w').close()\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder recorder;
  auto handler = recorder.handler();
  std::mutex mu;
  std::function<void()> resume;  // Guarded by mu.
  int asked = 0;                 // Guarded by mu.
  handler.wait = [&](std::function<void()> r) {
    std::lock_guard lock(mu);
    if (++asked > 1) return false;  // full once, at the first chunk
    resume = std::move(r);
    return true;
  };
  instance->invoke(testing::make_invocation("{}"), std::move(handler));
  for (int i = 0; i < 100 && !std::filesystem::exists(done); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(std::filesystem::exists(done)) << "the generator ran on while paused";
  EXPECT_EQ(recorder.chunks().size(), 1u);
  std::function<void()> go;
  {
    std::lock_guard lock(mu);
    go = std::move(resume);
  }
  ASSERT_TRUE(go);
  go();
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kOk);
  EXPECT_EQ(recorder.chunks().size(), 200u);
  EXPECT_TRUE(std::filesystem::exists(done));
  std::filesystem::remove(done);
}

TEST_P(PythonInstanceTest, AConsumerThatLeftStopsTheStreamAndTheInstance) {
  auto instance = start(spec(
      "def handle(event, context):\n"
      "    while True:\n        yield 'tick'\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder recorder;
  auto handler = recorder.handler();
  handler.gone = [] { return true; };
  instance->invoke(testing::make_invocation("{}"), std::move(handler));
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kCrash);
  EXPECT_EQ(reply->error_type, "ClientClosed");
  EXPECT_TRUE(observer_.wait_exit());
}

TEST_P(PythonInstanceTest, AResultOverTheCapIsAnErrorAndTheInstanceServesOn) {
  auto instance = start(spec(
      "def handle(event, context):\n"
      "    return 'x' * (7 * 1024 * 1024) if event.get('big') else 'small'\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder big;
  instance->invoke(testing::make_invocation(R"({"big": true})"), big.handler());
  auto reply = big.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kError);
  EXPECT_EQ(reply->error_type, kResultTooLarge);
  EXPECT_NE(reply->error_message.find("6 MB"), std::string::npos) << reply->error_message;
  EXPECT_TRUE(reply->body.empty());
  ReplyRecorder small;
  instance->invoke(testing::make_invocation("{}"), small.handler());
  reply = small.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kOk);
  EXPECT_EQ(reply->body, R"("small")");
}

TEST_P(PythonInstanceTest, GeneratorOfServerSentEventsIsAnEventStream) {
  auto instance = start(spec("def handle(event, context):\n    yield 'data: 1\\n\\n'\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder recorder;
  instance->invoke(testing::make_invocation("{}"), recorder.handler());
  ASSERT_TRUE(recorder.wait());
  EXPECT_EQ(recorder.content_type(), "text/event-stream");
}

TEST_P(PythonInstanceTest, InitErrorIsReportedWithTheException) {
  auto instance = launcher_->launch(spec("raise RuntimeError('no model file')\n"), observer_);
  ASSERT_TRUE(instance);
  auto error = observer_.wait_init_failed();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->outcome, Outcome::kInitError);
  EXPECT_EQ(error->error_type, "RuntimeError");
  EXPECT_EQ(error->error_message, "no model file");
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 1);
  EXPECT_NE(log().find("RuntimeError: no model file"), std::string::npos) << log();
}

TEST_P(PythonInstanceTest, InvocationPastItsTimeoutKillsTheInstance) {
  auto instance = start(spec(
      "import time\ndef handle(event, context):\n    time.sleep(60)\n"));
  ASSERT_TRUE(instance);
  Reply reply = call(*instance, testing::make_invocation("{}", std::chrono::milliseconds(300)));
  EXPECT_EQ(reply.outcome, Outcome::kTimeout);
  EXPECT_EQ(reply.error_type, "Timeout");
  EXPECT_EQ(reply.error_message, "function timed out after 0.30 s");
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->requested);
  EXPECT_EQ(exit->signal, 9);
}

TEST_P(PythonInstanceTest, ProcessExitDuringAnInvocationIsACrash) {
  auto instance = start(spec("import os\ndef handle(event, context):\n    os._exit(3)\n"));
  ASSERT_TRUE(instance);
  Reply reply = call(*instance, testing::make_invocation("{}"));
  EXPECT_EQ(reply.outcome, Outcome::kCrash);
  EXPECT_NE(reply.error_message.find("code 3"), std::string::npos) << reply.error_message;
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_FALSE(exit->requested);
  EXPECT_FALSE(exit->oom);
}

TEST_P(PythonInstanceTest, KilledProcessIsACrashNamingTheSignal) {
  auto instance = start(spec(
      "import os, signal\ndef handle(event, context):\n"
      "    os.kill(os.getpid(), signal.SIGKILL)\n"));
  ASSERT_TRUE(instance);
  Reply reply = call(*instance, testing::make_invocation("{}"));
  EXPECT_EQ(reply.outcome, Outcome::kCrash);
  EXPECT_NE(reply.error_message.find("signal 9"), std::string::npos) << reply.error_message;
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->signal, 9);
}

TEST_P(PythonInstanceTest, AllocatingPastTheMemoryLimitIsOutOfMemory) {
  LaunchSpec s = spec(
      "def handle(event, context):\n"
      "    blocks = [b'x' * (10 * 1024 * 1024) for _ in range(40)]\n"
      "    return len(blocks)\n");
  s.memory_mb = 128;
  auto instance = start(s);
  ASSERT_TRUE(instance);
  Reply reply = call(*instance, testing::make_invocation("{}"));
  EXPECT_EQ(reply.outcome, Outcome::kOom) << reply.error_type << ": " << reply.error_message;
  EXPECT_EQ(reply.error_type, "OutOfMemory");
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->oom);
}

TEST_P(PythonInstanceTest, ConcurrencyTwoServesTwoRequestsAtOnce) {
  // Each call waits at a barrier for the other: both finish only if they overlap.
  LaunchSpec s = spec(
      "import threading\nBARRIER = threading.Barrier(2, timeout=15)\n"
      "def handle(event, context):\n    BARRIER.wait()\n    return event\n");
  s.concurrency = 2;
  s.memory_mb = 256;
  auto instance = start(s);
  ASSERT_TRUE(instance);
  ReplyRecorder first, second;
  instance->invoke(testing::make_invocation("1"), first.handler());
  instance->invoke(testing::make_invocation("2"), second.handler());
  auto a = first.wait();
  auto b = second.wait();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->outcome, Outcome::kOk) << a->error_type << ": " << a->error_message;
  EXPECT_EQ(b->outcome, Outcome::kOk) << b->error_type << ": " << b->error_message;
  EXPECT_EQ(a->body, "1");
  EXPECT_EQ(b->body, "2");
}

TEST_P(PythonInstanceTest, AnInvocationSentAheadGetsItsWholeTimeoutOnceItStarts) {
  auto instance = start(spec(
      "import time\ndef handle(event, context):\n    time.sleep(event)\n"
      "    return context.get_remaining_time_in_millis()\n"));
  ASSERT_TRUE(instance);
  EXPECT_EQ(instance->pipeline_depth(), 1);
  ReplyRecorder first, second;
  instance->invoke(testing::make_invocation("1.5", std::chrono::milliseconds(5000)),
                   first.handler());
  instance->invoke(testing::make_invocation("0.1", std::chrono::milliseconds(900)),
                   second.handler());
  auto a = first.wait();
  auto b = second.wait();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->outcome, Outcome::kOk) << a->error_message;
  // It waited 1.5 s behind the first, longer than its own 0.9 s timeout, which only
  // started to run when it did.
  EXPECT_EQ(b->outcome, Outcome::kOk) << b->error_message;
  EXPECT_GT(std::stoi(b->body), 0);
}

TEST_P(PythonInstanceTest, AnInvocationSentAheadReportsHowLongItWaitedBehindTheOther) {
  auto instance = start(spec(
      "import time\ndef handle(event, context):\n    time.sleep(event)\n    return event\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder first, second;
  auto before_first = std::chrono::steady_clock::now();
  instance->invoke(testing::make_invocation("1.0"), first.handler());
  instance->invoke(testing::make_invocation("0"), second.handler());
  auto after_second = std::chrono::steady_clock::now();
  auto a = first.wait();
  auto b = second.wait();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->outcome, Outcome::kOk) << b->error_message;
  EXPECT_EQ(a->waited.count(), 0);  // it began as it arrived
  // The second could begin only once the first had slept its second, whatever the load.
  auto least = before_first + std::chrono::seconds(1) - after_second;
  EXPECT_GE(b->waited, std::chrono::duration_cast<std::chrono::microseconds>(least));
  EXPECT_LT(b->waited, std::chrono::steady_clock::now() - before_first);
}

TEST_P(PythonInstanceTest, AnInvocationWaitingBehindATimedOutOneEndsNotStarted) {
  auto instance = start(spec(
      "import time\ndef handle(event, context):\n    time.sleep(60)\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder running, waiting;
  instance->invoke(testing::make_invocation("{}", std::chrono::milliseconds(300)),
                   running.handler());
  instance->invoke(testing::make_invocation("{}"), waiting.handler());
  auto a = running.wait();
  auto b = waiting.wait();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->outcome, Outcome::kTimeout);
  EXPECT_TRUE(a->started);
  EXPECT_EQ(b->outcome, Outcome::kCrash);
  EXPECT_FALSE(b->started);  // so the scheduler may send it elsewhere
}

TEST_P(PythonInstanceTest, StopEndsInFlightInvocationsExactlyOnce) {
  auto instance = start(spec(
      "import time\ndef handle(event, context):\n    time.sleep(60)\n"));
  ASSERT_TRUE(instance);
  ReplyRecorder recorder;
  instance->invoke(testing::make_invocation("{}"), recorder.handler());
  instance->stop();
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kCrash);
  ASSERT_TRUE(observer_.wait_exit());
  EXPECT_EQ(recorder.done_calls(), 1);
  // After the exit, a late invocation still gets its on_done, on another thread.
  ReplyRecorder late;
  instance->invoke(testing::make_invocation("{}"), late.handler());
  ASSERT_TRUE(late.wait());
  EXPECT_EQ(late.wait()->outcome, Outcome::kCrash);
}

TEST_P(PythonInstanceTest, ForkStormStopsAtTheTaskLimitAndTheInstanceLivesOn) {
  if (!launcher_->limits_pids()) GTEST_SKIP() << "no writable pids cgroup";
  // Children wait on a pipe, not a timer, so they are all alive when fork is refused.
  LaunchSpec s = spec(
      "import os\n"
      "def handle(event, context):\n"
      "    r, w = os.pipe()\n"
      "    children, refused = [], None\n"
      "    try:\n"
      "        for _ in range(1000):\n"
      "            pid = os.fork()\n"
      "            if pid == 0:\n"
      "                os.close(w)\n"
      "                os.read(r, 1)\n"
      "                os._exit(0)\n"
      "            children.append(pid)\n"
      "    except OSError as e:\n"
      "        refused = type(e).__name__\n"
      "    os.close(w)\n"
      "    for pid in children:\n"
      "        os.waitpid(pid, 0)\n"
      "    return {'forked': len(children), 'refused': refused}\n");
  s.memory_mb = 512;  // each child's page tables and kernel stack count as its memory
  auto instance = start(s);
  ASSERT_TRUE(instance);
  const int64_t max_pids = options().max_pids;
  for (int round = 0; round < 2; ++round) {
    Reply reply = call(*instance, testing::make_invocation("{}"));
    ASSERT_EQ(reply.outcome, Outcome::kOk) << reply.error_type << ": " << reply.error_message;
    json got = json::parse(reply.body);
    EXPECT_EQ(got["refused"], "BlockingIOError") << got;
    EXPECT_GT(got["forked"].get<int>(), 0) << got;
    EXPECT_LT(got["forked"].get<int64_t>(), max_pids) << got;
  }
  std::string group = options().pids_cgroup_root + "/" + instance->id();
  if (!std::filesystem::exists(group)) group = options().cgroup_root + "/" + instance->id();
  EXPECT_TRUE(std::filesystem::exists(group + "/pids.max"));
  instance->stop();
  ASSERT_TRUE(observer_.wait_exit());
  EXPECT_FALSE(std::filesystem::exists(group));
}

TEST_P(PythonInstanceTest, MissingInterpreterFailsTheLaunchAndLeavesNothingBehind) {
  LauncherOptions o = options();
  o.python = dir_.path() + "/no-such-python";
  auto launcher = ProcessLauncher::create(o);
  ASSERT_TRUE(launcher);
  auto instance = (*launcher)->launch(spec("def handle(e, c):\n    return 1\n"), observer_);
  ASSERT_FALSE(instance);
  EXPECT_NE(instance.error().message.find("exec"), std::string::npos) << instance.error().message;
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/instances"));
  EXPECT_FALSE(observer_.exited());
}

INSTANTIATE_TEST_SUITE_P(MemoryLimit, PythonInstanceTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Cgroup" : "Rlimit"; });

}  // namespace
}  // namespace kumo::executor
