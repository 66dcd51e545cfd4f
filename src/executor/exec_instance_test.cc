// A real HTTP program (python's http.server) run as an `exec` function.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "executor/exec_instance.h"
#include "executor/process_launcher.h"
#include "executor/sandbox.h"
#include "executor/test_support.h"

namespace kumo::executor {
namespace {

using nlohmann::json;
using testing::RecordingObserver;
using testing::ReplyRecorder;

constexpr const char* kServer = R"(
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.path == "/sleep":
            time.sleep(60)
        print("serving", self.path, flush=True)
        out = json.dumps({"method": self.command, "path": self.path, "body": body,
                          "test": self.headers.get("X-Test"),
                          "type": self.headers.get("Content-Type"),
                          "netns": os.readlink("/proc/self/ns/net")}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Answer", "yes")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Echo).serve_forever()
)";

class ExecInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LauncherOptions options;
    options.sandbox = false;  // sandbox_test.cc runs one in a box
    options.runtime_dir = dir_.path() + "/runtime";
    options.use_cgroups = false;
    auto launcher = ProcessLauncher::create(options);
    ASSERT_TRUE(launcher) << launcher.error().message;
    launcher_ = std::move(*launcher);
    dir_.write("code/server.py", kServer);
    spec_.function = "web";
    spec_.runtime = Runtime::kExec;
    spec_.handler = "exec /usr/bin/python3 server.py";
    spec_.code_dir = dir_.path() + "/code";
    spec_.instances_root = dir_.path() + "/instances";
    spec_.log_path = dir_.path() + "/web.log";
    spec_.memory_mb = 256;
  }

  testing::TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_;
  RecordingObserver observer_;
  LaunchSpec spec_;
};

TEST_F(ExecInstanceTest, ForwardsAnHttpCallAndReturnsTheProgramsReply) {
  auto instance = launcher_->launch(spec_, observer_);
  ASSERT_TRUE(instance) << instance.error().message;
  ASSERT_TRUE(observer_.wait_ready());
  Invocation inv = testing::make_invocation("");
  inv.http = HttpCall{"PUT", "/items/7", "x=1", {{"X-Test", "hi"}, {"Host", "kumo"}}, "payload"};
  ReplyRecorder recorder;
  (*instance)->invoke(inv, recorder.handler());
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->outcome, Outcome::kOk) << reply->error_type << ": " << reply->error_message;
  EXPECT_EQ(reply->http_status, 201);
  EXPECT_EQ(reply->content_type, "application/json");
  bool has_answer = false;
  for (const auto& [name, value] : reply->http_headers) {
    has_answer |= name == "X-Answer" && value == "yes";
  }
  EXPECT_TRUE(has_answer);
  json got = json::parse(reply->body);
  EXPECT_EQ(got["method"], "PUT");
  EXPECT_EQ(got["path"], "/items/7?x=1");
  EXPECT_EQ(got["body"], "payload");
  EXPECT_EQ(got["test"], "hi");
  instance->reset();
  std::string log = testing::read_file(spec_.log_path);
  EXPECT_NE(log.find(" " + inv.request_id + " stdout serving /items/7?x=1"), std::string::npos)
      << log;
}

TEST_F(ExecInstanceTest, PostsAPlainEventAsJson) {
  auto instance = launcher_->launch(spec_, observer_);
  ASSERT_TRUE(instance) << instance.error().message;
  ASSERT_TRUE(observer_.wait_ready());
  ReplyRecorder recorder;
  (*instance)->invoke(testing::make_invocation(R"({"k": 1})"), recorder.handler());
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->outcome, Outcome::kOk) << reply->error_message;
  json got = json::parse(reply->body);
  EXPECT_EQ(got["method"], "POST");
  EXPECT_EQ(got["path"], "/");
  EXPECT_EQ(got["body"], R"({"k": 1})");
  EXPECT_EQ(got["type"], "application/json");
}

TEST_F(ExecInstanceTest, ProgramThatExitsBeforeListeningFailsInit) {
  spec_.handler = "echo starting; exit 4";
  auto instance = launcher_->launch(spec_, observer_);
  ASSERT_TRUE(instance) << instance.error().message;
  auto error = observer_.wait_init_failed();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->outcome, Outcome::kInitError);
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 4);
}

TEST_F(ExecInstanceTest, RequestPastItsTimeoutKillsTheProgram) {
  auto instance = launcher_->launch(spec_, observer_);
  ASSERT_TRUE(instance) << instance.error().message;
  ASSERT_TRUE(observer_.wait_ready());
  Invocation inv = testing::make_invocation("", std::chrono::milliseconds(300));
  inv.http = HttpCall{"GET", "/sleep", "", {}, ""};
  ReplyRecorder recorder;
  (*instance)->invoke(inv, recorder.handler());
  auto reply = recorder.wait();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kTimeout);
  EXPECT_EQ(reply->error_message, "function timed out after 0.30 s");
  auto exit = observer_.wait_exit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->requested);
  EXPECT_EQ(recorder.done_calls(), 1);
}

// What ProcessLauncher prepares, made here so that the process gets a box, and so a network
// namespace, of its own.
InstanceSetup boxed_setup(const LaunchSpec& spec, InstanceObserver& observer) {
  InstanceSetup setup;
  setup.id = "boxed";
  setup.spec = spec;
  setup.observer = &observer;
  auto workdir = make_workdir(spec.instances_root, setup.id, "");
  EXPECT_TRUE(workdir) << workdir.error().message;
  setup.workdir = workdir.value_or("");
  auto log = LogFile::open(spec.log_path);
  EXPECT_TRUE(log) << log.error().message;
  if (log) setup.log = std::move(*log);
  setup.sandbox.enabled = true;
  setup.sandbox.uid = sandbox_uid(spec.function);
  setup.sandbox.code_dir = setup.sandbox.runtime_dir = spec.code_dir;
  return setup;
}

TEST_F(ExecInstanceTest, ServesAProgramInANetworkNamespaceOfItsOwn) {
  if (!sandbox_unavailable_reason().empty()) GTEST_SKIP() << sandbox_unavailable_reason();
  auto instance = ExecInstance::launch(boxed_setup(spec_, observer_), {"PATH=/usr/bin:/bin"}, 0);
  ASSERT_TRUE(instance) << instance.error().message;
  ASSERT_TRUE(observer_.wait_ready());  // probed inside its namespace
  // The second invocation goes over the kept connection.
  for (int i = 0; i < 2; ++i) {
    ReplyRecorder recorder;
    (*instance)->invoke(testing::make_invocation("{}"), recorder.handler());
    auto reply = recorder.wait();
    ASSERT_TRUE(reply);
    ASSERT_EQ(reply->outcome, Outcome::kOk) << reply->error_type << ": " << reply->error_message;
    json got = json::parse(reply->body);
    EXPECT_NE(got["netns"], std::filesystem::read_symlink("/proc/self/ns/net").string());
  }
  // Our own threads stayed in our namespace.
  EXPECT_EQ(std::filesystem::read_symlink("/proc/thread-self/ns/net"),
            std::filesystem::read_symlink("/proc/self/ns/net"));
}

}  // namespace
}  // namespace kumo::executor
