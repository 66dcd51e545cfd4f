// Events: the facade the server wires. It keeps the subscriptions (configure, remove), hands
// what comes in to the Intake, and runs the Dispatcher on one thread: step it at the wall
// clock's now, then wait until the step it says is next or until something wakes it (new
// work, an attempt that ended, stop()). Every decision is the dispatcher's.
#include "events/events.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/units.h"
#include "events/dispatcher.h"
#include "events/events_db.h"
#include "events/intake.h"
#include "events/subscriptions.h"
#include "events/triggers.h"

namespace kumo::events {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class ThreadedEvents final : public Events {
 public:
  ThreadedEvents(std::unique_ptr<EventsDb> db, scheduler::Scheduler& sched, milliseconds retention)
      : db_(std::move(db)),
        intake_(*db_, subscriptions_, clock_, retention, [this] { poke(); }),
        dispatcher_(*db_, sched, subscriptions_, retention, [this] { poke(); }) {}
  ~ThreadedEvents() override { stop(); }

  Result<void> validate(const registry::FunctionSpec& spec) const override;
  void configure(const registry::FunctionSpec& spec) override;
  void remove(const std::string& function) override;
  void set_table_catalog(const TableCatalog* catalog) override {
    std::lock_guard lock(mu_);
    catalog_ = catalog;
  }
  Result<std::string> invoke_async(AsyncRequest request) override {
    return intake_.invoke_async(std::move(request));
  }
  Result<json> invocation(const std::string& request_id) const override {
    return intake_.invocation(request_id);
  }
  Result<json> messages(const std::string& topic, int64_t after, int limit) const override {
    return intake_.messages(topic, after, limit);
  }
  Result<std::string> publish(const std::string& topic, Message message) override {
    return intake_.publish(topic, std::move(message));
  }
  Result<int> object_changed(const ObjectEvent& event) override {
    return intake_.object_changed(event);
  }
  Result<int> table_changed(const TableChange& change) override {
    return intake_.table_changed(change);
  }
  void start() override;
  void stop() override;

 private:
  void poke();
  void run();

  std::unique_ptr<EventsDb> db_;
  Subscriptions subscriptions_;
  SystemWallClock clock_;
  Intake intake_;
  Dispatcher dispatcher_;  // stepped on thread_ only

  mutable std::mutex mu_;
  const TableCatalog* catalog_ = nullptr;  // Guarded by mu_.
  bool poked_ = false;                     // Guarded by mu_.
  bool stopping_ = false;                  // Guarded by mu_.
  std::condition_variable wake_;
  std::thread thread_;
};

Result<void> ThreadedEvents::validate(const registry::FunctionSpec& spec) const {
  auto triggers = parse_triggers(spec.triggers, spec.async);
  if (!triggers) return triggers.error();
  if (triggers->async.on_failure == spec.name) {
    return make_error(ErrorCode::kInvalidArgument,
                      "async.on_failure: must name another function, not itself");
  }
  std::lock_guard lock(mu_);
  for (const auto& t : triggers->tables) {
    if (catalog_ == nullptr || !catalog_->table_exists(t.table)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("triggers: table '{}' does not exist; create it first "
                                    "(`kumo table create {}`)",
                                    t.table, t.table));
    }
  }
  return {};
}

void ThreadedEvents::configure(const registry::FunctionSpec& spec) {
  auto triggers = parse_triggers(spec.triggers, spec.async);
  if (!triggers) {
    spdlog::error("{}: triggers ignored: {}", spec.name, triggers.error().message);
    return;
  }
  std::vector<std::string> topics;
  for (const auto& q : triggers->queues) topics.push_back(q.topic);
  subscriptions_.put(spec.name, function_info(spec, std::move(*triggers)));
  if (auto r = db_->unsubscribe(spec.name, topics); !r) spdlog::error("{}", r.error().message);
  poke();
}

void ThreadedEvents::remove(const std::string& function) {
  subscriptions_.erase(function);
  auto buried =
      db_->bury(function, fmt::format("function '{}' was removed", function), clock_.now_us());
  if (!buried) spdlog::error("{}", buried.error().message);
  poke();
}

void ThreadedEvents::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  wake_.notify_one();
}

void ThreadedEvents::start() {
  auto recovered = dispatcher_.recover();
  if (!recovered) spdlog::error("{}", recovered.error().message);
  if (recovered && *recovered > 0) {
    spdlog::info("requeued {} async invocations that were running when the server stopped",
                 *recovered);
  }
  thread_ = std::thread([this] { run(); });
}

void ThreadedEvents::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// The thin thread: every decision is the dispatcher's; this only says when to step.
void ThreadedEvents::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    poked_ = false;
    lock.unlock();
    int64_t now = clock_.now_us();
    int64_t due = dispatcher_.step(now);
    lock.lock();
    wake_.wait_for(lock, std::chrono::microseconds(due - now),
                   [this] { return poked_ || stopping_; });
  }
}

}  // namespace

Events::~Events() = default;

Result<std::unique_ptr<Events>> Events::open(const EventsOptions& options,
                                             scheduler::Scheduler& scheduler) {
  milliseconds retention = std::chrono::hours(24);
  if (options.config.is_object() && options.config.contains("retention")) {
    const json& r = options.config["retention"];
    auto d = parse_duration(r.is_string() ? r.get<std::string>() : r.dump());
    if (!d) {
      return make_error(ErrorCode::kInvalidArgument,
                        "events.retention: not a duration, e.g. 24h");
    }
    retention = *d;
  }
  auto db = EventsDb::open(options.db_path);
  if (!db) return db.error();
  return std::unique_ptr<Events>(new ThreadedEvents(std::move(*db), scheduler, retention));
}

}  // namespace kumo::events
