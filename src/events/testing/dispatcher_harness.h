// Test support for the dispatcher's tests (only tests include it): a scheduler the test
// answers by hand, and a fixture with a fake wall clock, a real SQLite file, an intake and a
// dispatcher that the test steps. Nothing here sleeps or starts a thread.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/ids.h"
#include "events/dispatcher.h"
#include "events/intake.h"
#include "events/triggers.h"

namespace kumo::events::testing {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kStart = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z, on a whole second

// Keeps every invocation until the test answers it.
class HandScheduler final : public scheduler::Scheduler {
 public:
  struct Call {
    std::string function;
    executor::Invocation inv;
    executor::ReplyHandler handler;
    bool answered = false;
  };
  using Respond = std::function<executor::Reply(const Call&)>;

  void configure(const scheduler::PoolConfig&) override {}
  void remove(const std::string&) override {}
  Result<void> invoke(const std::string& function, executor::Invocation inv,
                      executor::ReplyHandler handler) override {
    if (refuse) return make_error(*refuse, "refused");
    calls.push_back({function, std::move(inv), std::move(handler)});
    return {};
  }
  scheduler::PoolStats stats(const std::string&) const override { return {}; }
  void tick() override {}
  void shutdown() override {}

  // Answers every call not answered yet; returns how many.
  int answer(const Respond& respond) {
    int n = 0;
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].answered) continue;
      calls[i].answered = true;
      calls[i].handler.on_done(respond(calls[i]));
      ++n;
    }
    return n;
  }
  // Drops the unanswered calls, as a server killed mid-invocation does.
  void forget() {
    for (auto& c : calls) c.answered = true;
  }
  std::vector<std::string> functions() const {
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(c.function);
    return out;
  }

  std::vector<Call> calls;
  std::optional<ErrorCode> refuse;
};

inline executor::Reply ok(std::string body) {
  executor::Reply r;
  r.body = std::move(body);
  return r;
}

inline executor::Reply error(std::string type, std::string message) {
  executor::Reply r;
  r.outcome = executor::Outcome::kError;
  r.error_type = std::move(type);
  r.error_message = std::move(message);
  return r;
}

inline registry::FunctionSpec spec(const std::string& name, json triggers = json::array(),
                                   json async = json::object()) {
  registry::FunctionSpec s;
  s.name = name;
  s.handler = "main.handle";
  s.triggers = std::move(triggers);
  s.async = std::move(async);
  return s;
}

inline json queue(const std::string& topic, int batch_size, const std::string& window) {
  return json::array(
      {{{"queue", {{"topic", topic}, {"batch_size", batch_size}, {"batch_window", window}}}}});
}

inline std::vector<std::string> bodies(const executor::Invocation& inv) {
  std::vector<std::string> out;
  json event = json::parse(inv.payload);
  for (const auto& r : event["Records"]) out.push_back(r["body"]);
  return out;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kumo-dispatcher-" + new_short_id());
    std::filesystem::create_directories(dir_);
    restart();
  }
  void TearDown() override {
    dispatcher_.reset();
    intake_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Opens the database file again with a new intake and dispatcher, as a restarted server.
  void restart() {
    sched_.forget();
    dispatcher_.reset();
    intake_.reset();
    auto db = EventsDb::open((dir_ / "kumo.db").string());
    ASSERT_TRUE(db.has_value()) << db.error().message;
    db_ = std::move(*db);
    intake_ =
        std::make_unique<Intake>(*db_, subs_, clock_, std::chrono::hours(24), [this] { ++wakes_; });
    dispatcher_ = std::make_unique<Dispatcher>(*db_, sched_, subs_, std::chrono::hours(24),
                                               [this] { ++wakes_; });
  }
  void configure(const registry::FunctionSpec& s) {
    auto triggers = parse_triggers(s.triggers, s.async);
    ASSERT_TRUE(triggers.has_value()) << triggers.error().message;
    subs_.put(s.name, function_info(s, std::move(*triggers)));
  }
  int64_t step() { return dispatcher_->step(clock_.now_us()); }
  void advance(milliseconds d) { clock_.advance(d); }
  int64_t now() const { return clock_.now_us(); }
  std::string invoke(const std::string& function, std::string payload = "{}") {
    auto id = intake_->invoke_async({function, std::move(payload), "", "api"});
    EXPECT_TRUE(id.has_value()) << id.error().message;
    return id.value_or("");
  }
  json state(const std::string& id) const {
    auto j = intake_->invocation(id);
    return j ? *j : json();
  }
  int64_t next_run(const std::string& id) const { return (*db_->get(id))->next_run_us; }
  json letters(const std::string& topic) const {
    return (*intake_->messages(topic, 0, 100))["messages"];
  }

  std::filesystem::path dir_;
  FakeWallClock clock_{kStart};
  Subscriptions subs_;
  HandScheduler sched_;
  int wakes_ = 0;
  std::unique_ptr<EventsDb> db_;
  std::unique_ptr<Intake> intake_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

}  // namespace kumo::events::testing
