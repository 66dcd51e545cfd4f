// LauncherOptions::credentials: every instance and zygote template gets a credential of its
// own in its environment, and each one is released exactly once when its holder ends.
#include <algorithm>
#include <chrono>
#include <mutex>
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

constexpr const char* kEcho = R"(
import os
def handle(event, context):
    if event.get("crash"):
        os._exit(3)
    return {"cred": os.environ.get("TEST_CRED"), "id": os.environ["KUMO_INSTANCE_ID"],
            "perms": os.environ.get("TEST_PERMS")}
)";

// What the callbacks saw, safe to read from the test's thread.
struct Ledger {
  std::mutex mu;
  std::vector<std::string> issued;
  std::vector<std::string> released;
  bool refuse = false;

  bool was_released(const std::string& id) {
    std::lock_guard lock(mu);
    return std::count(released.begin(), released.end(), id) == 1;
  }
  bool wait_released(const std::string& id) {
    auto until = std::chrono::steady_clock::now() + testing::kWaitCap;
    while (!was_released(id)) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
};

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LauncherOptions o = testing::launcher_options(dir_.path() + "/runtime", false);
    o.sandbox = false;  // the box is sandbox_test.cc's; credentials do not depend on it
    o.credentials.issue = [this](const LaunchSpec& spec, const std::string& id,
                                 const std::string&) -> Result<InstanceCredentials::Env> {
      std::lock_guard lock(ledger_.mu);
      if (ledger_.refuse) return make_error(ErrorCode::kConflict, "no more keys");
      ledger_.issued.push_back(id);
      return InstanceCredentials::Env{{"TEST_CRED", "cred-" + id},
                                      {"TEST_PERMS", spec.permissions}};
    };
    o.credentials.release = [this](const std::string& id) {
      std::lock_guard lock(ledger_.mu);
      ledger_.released.push_back(id);
    };
    auto launcher = ProcessLauncher::create(o);
    ASSERT_TRUE(launcher) << launcher.error().message;
    launcher_ = std::move(*launcher);
  }

  LaunchSpec spec(bool zygote) {
    dir_.write("code/main.py", kEcho);
    LaunchSpec s;
    s.function = "fn";
    s.version = 1;
    s.handler = "main.handle";
    s.code_dir = dir_.path() + "/code";
    s.instances_root = dir_.path() + "/instances";
    s.log_path = dir_.path() + "/logs/fn.log";
    s.zygote = zygote;
    s.permissions = "read:table/t";
    return s;
  }

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

  std::optional<Reply> call(Instance& instance, const std::string& payload = "{}") {
    ReplyRecorder recorder;
    instance.invoke(testing::make_invocation(payload), recorder.handler());
    return recorder.wait();
  }

  testing::TempDir dir_;
  Ledger ledger_;
  std::unique_ptr<ProcessLauncher> launcher_;
  std::vector<std::unique_ptr<RecordingObserver>> observers_;
};

TEST_F(CredentialsTest, AForkedInstanceHasItsOwnCredentialNotItsTemplates) {
  LaunchSpec s = spec(true);
  auto a = start(s);
  auto b = start(s);
  ASSERT_TRUE(a && b);
  json ra = json::parse(call(*a)->body);
  json rb = json::parse(call(*b)->body);
  EXPECT_EQ(ra["cred"], "cred-" + a->id());
  EXPECT_EQ(rb["cred"], "cred-" + b->id());
  EXPECT_EQ(ra["perms"], "read:table/t");
  std::lock_guard lock(ledger_.mu);
  // The template has one of its own too, for its init.
  EXPECT_EQ(std::count_if(ledger_.issued.begin(), ledger_.issued.end(),
                          [](const std::string& id) { return id.starts_with("zygote-"); }),
            1);
  EXPECT_EQ(ledger_.issued.size(), 3u);
}

TEST_F(CredentialsTest, TheCredentialIsReleasedOnceWhenTheInstanceIsStopped) {
  auto instance = start(spec(false));
  ASSERT_TRUE(instance);
  std::string id = instance->id();
  EXPECT_FALSE(ledger_.was_released(id));
  instance->stop();
  ASSERT_TRUE(observers_.back()->wait_exit());
  EXPECT_TRUE(ledger_.wait_released(id));
  instance.reset();
  EXPECT_TRUE(ledger_.was_released(id));  // still once
}

TEST_F(CredentialsTest, TheCredentialIsReleasedWhenTheInstanceCrashes) {
  auto instance = start(spec(false));
  ASSERT_TRUE(instance);
  auto reply = call(*instance, R"({"crash": true})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->outcome, Outcome::kCrash);
  ASSERT_TRUE(observers_.back()->wait_exit());
  EXPECT_TRUE(ledger_.wait_released(instance->id()));
}

TEST_F(CredentialsTest, TheTemplatesCredentialIsReleasedWithTheTemplate) {
  LaunchSpec s = spec(true);
  ASSERT_TRUE(launcher_->start_template(s, testing::kWaitCap));
  std::string template_id;
  {
    std::lock_guard lock(ledger_.mu);
    ASSERT_EQ(ledger_.issued.size(), 1u);
    template_id = ledger_.issued[0];
  }
  launcher_->release_version("fn", 1);
  EXPECT_TRUE(ledger_.wait_released(template_id));
}

TEST_F(CredentialsTest, ALaunchWhoseCredentialIsRefusedFailsWithItsError) {
  {
    std::lock_guard lock(ledger_.mu);
    ledger_.refuse = true;
  }
  RecordingObserver observer;
  auto instance = launcher_->launch(spec(false), observer);
  ASSERT_FALSE(instance);
  EXPECT_EQ(instance.error().code, ErrorCode::kConflict);
  EXPECT_EQ(instance.error().message, "no more keys");
}

}  // namespace
}  // namespace kumo::executor
