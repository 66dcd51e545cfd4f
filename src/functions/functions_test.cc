// The function lifecycle over a real registry (a SQLite file in a temp dir), the real
// PoolScheduler on the scheduler's fake launcher and fake clock, and a recording Events.
#include "functions/functions.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <set>

#include "functions/gpu_validator.h"
#include "registry/test_util.h"
#include "scheduler/fake_executor.h"
#include "scheduler/pool_scheduler.h"

namespace kumo::functions {
namespace {

using registry::testing::file;
using registry::testing::make_targz;
using registry::testing::TempDir;
using scheduler::testing::FakeLauncher;

// Events as the lifecycle sees it: which specs were configured and removed. validate()
// refuses a function named in `refuse`, as events refuses a bad trigger.
class RecordingEvents final : public events::Events {
 public:
  Result<void> validate(const registry::FunctionSpec& spec) const override {
    if (spec.name != refuse) return {};
    return make_error(ErrorCode::kInvalidArgument, "triggers[0].schedule.cron: not a cron");
  }
  void configure(const registry::FunctionSpec& spec) override { configured.push_back(spec.name); }
  void remove(const std::string& function) override { removed.push_back(function); }
  void set_table_catalog(const events::TableCatalog*) override {}
  Result<std::string> invoke_async(events::AsyncRequest) override { return std::string("r"); }
  Result<nlohmann::json> invocation(const std::string&) const override { return nullptr; }
  Result<nlohmann::json> messages(const std::string&, int64_t, int) const override {
    return nullptr;
  }
  void start() override {}
  void stop() override {}
  Result<std::string> publish(const std::string&, events::Message) override { return ""; }
  Result<int> object_changed(const events::ObjectEvent&) override { return 0; }
  Result<int> table_changed(const events::TableChange&) override { return 0; }

  std::string refuse;
  std::vector<std::string> configured;
  std::vector<std::string> removed;
};

struct NoRecords final : scheduler::InvocationObserver {
  void on_invocation(const scheduler::InvocationRecord&) override {}
};
struct NoScaleLog final : scheduler::ScaleObserver {
  void on_scale(const std::string&, const std::string&, int) override {}
};

std::string package(const std::string& name, const std::string& extra = "",
                    const std::string& code = "def handler(event, context):\n  return event\n") {
  std::string yaml = "name: " + name + "\nruntime: python3\nhandler: main.handler\n" + extra;
  return make_targz({file("kumo.yaml", yaml), file("main.py", code)});
}

// One server's worth of parts over a data directory; a second Server on the same directory
// is the server after a restart.
struct Server {
  explicit Server(const std::string& data_dir)
      : db(*store::Database::open(data_dir + "/kumo.db")),
        registry(*registry::Registry::open(*db, data_dir)),
        functions(*registry, sched, events, LaunchPlan{data_dir, "kumo-model", std::nullopt},
                  {&events, &gpus}) {}

  FakeClock clock;
  FakeLauncher launcher{&clock};
  NoRecords records;
  NoScaleLog scale;
  scheduler::PoolScheduler sched{launcher, clock, records, scale};  // no GPUs
  RecordingEvents events;
  GpuValidator gpus{sched};
  std::unique_ptr<store::Database> db;
  std::unique_ptr<registry::Registry> registry;
  Functions functions;
};

class FunctionsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string data_dir_ = dir_.path().string();
  Server server_{data_dir_};
  Functions& functions_ = server_.functions;
};

TEST_F(FunctionsTest, DeployConfiguresThePoolAndTheTriggers) {
  auto fv = functions_.deploy(package("hello", "min_instances: 1\n"));
  ASSERT_TRUE(fv.has_value()) << fv.error().message;
  EXPECT_EQ(fv->version, 1);
  ASSERT_EQ(server_.launcher.launches(), 1u);  // min_instances started at once
  const executor::LaunchSpec& launched = server_.launcher.at(0).spec();
  EXPECT_EQ(launched.function, "hello");
  EXPECT_EQ(launched.code_dir, fv->code_dir);
  EXPECT_EQ(launched.log_path, data_dir_ + "/logs/hello.log");
  EXPECT_EQ(server_.events.configured, std::vector<std::string>{"hello"});
  Functions::Entry found = functions_.find("hello");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->version, 1);
  EXPECT_EQ(functions_.stats("hello").starting, 1);
  ASSERT_EQ(functions_.pool_stats().size(), 1u);
  EXPECT_EQ(functions_.pool_stats()[0].first, "hello");
}

TEST_F(FunctionsTest, RedeployOfTheSamePackageIsUnchangedAndKeepsItsInstances) {
  ASSERT_TRUE(functions_.deploy(package("hello", "min_instances: 1\n")).has_value());
  server_.launcher.at(0).ready();
  auto again = functions_.deploy(package("hello", "min_instances: 1\n"));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_TRUE(again->unchanged);
  EXPECT_EQ(again->version, 1);
  EXPECT_EQ(server_.launcher.launches(), 1u);
  EXPECT_FALSE(server_.launcher.at(0).stopped());
  EXPECT_EQ(functions_.versions("hello")->size(), 1u);
}

TEST_F(FunctionsTest, ANewPackageIsTheNextVersionEverywhere) {
  ASSERT_TRUE(functions_.deploy(package("hello")).has_value());
  auto second = functions_.deploy(package("hello", "", "def handler(e, c):\n  return 2\n"));
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_FALSE(second->unchanged);
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(functions_.find("hello")->version, 2);
  EXPECT_EQ(server_.events.configured, (std::vector<std::string>{"hello", "hello"}));
}

TEST_F(FunctionsTest, RemoveStopsThePoolAndForgetsTheFunction) {
  ASSERT_TRUE(functions_.deploy(package("hello", "min_instances: 1\n")).has_value());
  server_.launcher.at(0).ready();
  ASSERT_TRUE(functions_.remove("hello").has_value());
  EXPECT_TRUE(server_.launcher.destroyed(0) || server_.launcher.at(0).stopped());
  EXPECT_EQ(functions_.find("hello"), nullptr);
  EXPECT_TRUE(functions_.list().empty());
  EXPECT_TRUE(functions_.pool_stats().empty());
  EXPECT_EQ(server_.events.removed, std::vector<std::string>{"hello"});
  auto again = functions_.remove("hello");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
}

// What cluster mode shares: each new version, numbered by the publisher before it is
// recorded, and each removal.
class RecordingPublisher final : public Publisher {
 public:
  Result<int> number(const registry::FunctionSpec& spec, const std::string& sha,
                     std::string_view package) override {
    seen.push_back(fmt::format("number {} {} ({} bytes)", spec.name, sha.substr(0, 8),
                               package.size()));
    if (refuse) return make_error(ErrorCode::kUnavailable, "the cluster is unreachable");
    return 41;
  }
  void removed(const std::string& name) override { seen.push_back("removed " + name); }
  std::vector<std::string> seen;
  bool refuse = false;
};

TEST_F(FunctionsTest, APublisherNumbersNewVersionsAndHearsOfRemovals) {
  RecordingPublisher publisher;
  functions_.set_publisher(&publisher);
  std::string first = package("hello");
  auto fv = functions_.deploy(first);
  ASSERT_TRUE(fv.has_value()) << fv.error().message;
  EXPECT_EQ(fv->version, 41);
  EXPECT_TRUE(functions_.deploy(first)->unchanged);                                // not asked
  EXPECT_FALSE(functions_.deploy(package("vision", "gpu: 1\n")).has_value());  // refused first
  publisher.refuse = true;
  auto refused = functions_.deploy(package("other"));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "the cluster is unreachable");
  EXPECT_EQ(functions_.find("other"), nullptr);  // nothing deployed
  ASSERT_TRUE(functions_.remove("hello").has_value());
  std::string sha = registry::sha256_hex(first).substr(0, 8);
  ASSERT_EQ(publisher.seen.size(), 3u);
  EXPECT_EQ(publisher.seen[0], fmt::format("number hello {} ({} bytes)", sha, first.size()));
  EXPECT_TRUE(publisher.seen[1].starts_with("number other "));
  EXPECT_EQ(publisher.seen[2], "removed hello");
  functions_.set_publisher(nullptr);
}

TEST_F(FunctionsTest, RestoreReconfiguresEveryStoredFunction) {
  ASSERT_TRUE(functions_.deploy(package("alpha", "min_instances: 1\n")).has_value());
  ASSERT_TRUE(functions_.deploy(package("beta", "min_instances: 1\n")).has_value());
  ASSERT_TRUE(functions_.deploy(package("gone")).has_value());
  ASSERT_TRUE(functions_.remove("gone").has_value());

  Server restarted(data_dir_);
  EXPECT_EQ(restarted.functions.find("alpha"), nullptr);  // nothing until restore()
  restarted.functions.restore();
  EXPECT_NE(restarted.functions.find("alpha"), nullptr);
  EXPECT_NE(restarted.functions.find("beta"), nullptr);
  EXPECT_EQ(restarted.functions.find("gone"), nullptr);
  EXPECT_EQ(restarted.launcher.launches(), 2u);
  std::set<std::string> launched{restarted.launcher.at(0).spec().function,
                                 restarted.launcher.at(1).spec().function};
  EXPECT_EQ(launched, (std::set<std::string>{"alpha", "beta"}));
  EXPECT_EQ(restarted.events.configured, (std::vector<std::string>{"alpha", "beta"}));
}

TEST_F(FunctionsTest, AValidatorRefusalRefusesTheDeployAndLeavesNothingDeployed) {
  auto fv = functions_.deploy(package("vision", "gpu: 1\nmin_instances: 1\n"));
  ASSERT_FALSE(fv.has_value());
  EXPECT_EQ(fv.error().code, ErrorCode::kInvalidArgument);
  // The GPU inventory's own message, as the scheduler gives it.
  scheduler::PoolConfig asked;
  asked.launch.function = "vision";
  asked.gpu = 1;
  EXPECT_EQ(fv.error().message, server_.sched.check(asked).error().message);
  EXPECT_EQ(functions_.find("vision"), nullptr);
  EXPECT_TRUE(functions_.list().empty());
  EXPECT_EQ(server_.launcher.launches(), 0u);
  EXPECT_TRUE(server_.events.configured.empty());
}

TEST_F(FunctionsTest, TheEventsValidatorRefusesWithItsMessage) {
  server_.events.refuse = "cron";
  auto fv = functions_.deploy(package("cron"));
  ASSERT_FALSE(fv.has_value());
  EXPECT_EQ(fv.error().message, "triggers[0].schedule.cron: not a cron");
  EXPECT_FALSE(functions_.versions("cron").has_value());
  EXPECT_EQ(functions_.find("cron"), nullptr);
}

TEST_F(FunctionsTest, ValidatorsSeeTheSpecAsAdmitRewroteIt) {
  server_.events.refuse = "acme~hello";
  auto to_tenant = [](registry::FunctionSpec& spec) -> Result<void> {
    spec.name = "acme~" + spec.name;
    return {};
  };
  auto fv = functions_.deploy(package("hello"), to_tenant);
  ASSERT_FALSE(fv.has_value());
  EXPECT_EQ(fv.error().message, "triggers[0].schedule.cron: not a cron");
}

TEST_F(FunctionsTest, AnAdmitRefusalComesFirstAndDeploysNothing) {
  auto refuse = [](registry::FunctionSpec& spec) -> Result<void> {
    return make_error(ErrorCode::kPermissionDenied, "this key may not deploy " + spec.name);
  };
  auto fv = functions_.deploy(package("vision", "gpu: 1\n"), refuse);
  ASSERT_FALSE(fv.has_value());
  EXPECT_EQ(fv.error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(functions_.list().empty());
}

}  // namespace
}  // namespace kumo::functions
