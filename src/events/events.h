// Events: the event side of Kumo. It owns the durable async-invocation queue and its
// dispatcher (retries with backoff, dead letters, on_failure destinations), the embedded
// topics and their `queue` subscriptions, the `schedule` triggers, and the routing of object
// and table changes to `storage` and `table` triggers.
//
// Everything durable lives in SQLite tables (events_*) of the server's database file, so an
// invocation answered 202, or an event whose source was acknowledged, survives a kill -9 of
// the server and runs after the restart (at least once).
//
// Threading: thread-safe. start() runs the dispatcher on its own thread; stop() joins it.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "events/sink.h"
#include "registry/spec.h"
#include "scheduler/scheduler.h"

namespace kumo::events {

struct EventsOptions {
  std::string db_path;              // the server's SQLite file
  nlohmann::json config;            // the config file's "events" section (null: defaults)
};

// An async invocation as GET /api/v1/invocations/{id} shows it.
struct AsyncRequest {
  std::string function;
  std::string payload = "{}";       // the event, JSON text
  std::string request_id;           // empty: one is made
  std::string source = "api";       // "api", "queue:<topic>", "storage:<bucket>", ...
};

class Events : public EventSink, public registry::SpecValidator {
 public:
  static Result<std::unique_ptr<Events>> open(const EventsOptions& options,
                                              scheduler::Scheduler& scheduler);
  ~Events() override;

  // Checks a spec's triggers and async settings (kInvalidArgument naming the field), e.g. an
  // invalid cron expression or a table trigger naming a table that does not exist.
  virtual Result<void> validate(const registry::FunctionSpec& spec) const = 0;
  // Subscribes a deployed function's triggers (replacing an earlier version's).
  virtual void configure(const registry::FunctionSpec& spec) = 0;
  // Drops its subscriptions; invocations still queued for it end as dead.
  virtual void remove(const std::string& function) = 0;
  // Tables that exist, for validate(); set before the first configure(). May be null.
  virtual void set_table_catalog(const TableCatalog* catalog) = 0;

  // Queues one invocation durably and returns its request id.
  virtual Result<std::string> invoke_async(AsyncRequest request) = 0;
  // {"request_id", "function", "state", "attempts", "result"|"error", ...}; kNotFound.
  virtual Result<nlohmann::json> invocation(const std::string& request_id) const = 0;
  // Recent messages of a topic, oldest first, after sequence number `after`.
  virtual Result<nlohmann::json> messages(const std::string& topic, int64_t after,
                                          int limit) const = 0;

  virtual void start() = 0;
  virtual void stop() = 0;
};

}  // namespace kumo::events
