// Triggers: a function's `triggers` and `async` settings from kumo.yaml, parsed and checked.
// parse_triggers() rejects a bad one with kInvalidArgument naming the field at fault
// ("triggers[2].schedule.cron: ..."). Values are plain; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "events/schedule.h"
#include "events/sink.h"

namespace kumo::events {

struct QueueTrigger {
  std::string topic;
  int batch_size = 1;                             // 1..1000 messages per invocation
  std::chrono::milliseconds batch_window{0};      // wait up to this long to fill a batch
};

struct StorageTrigger {
  std::string bucket;
  bool created = true;
  bool deleted = false;
  std::string prefix;
  std::string suffix;
};

struct TableTrigger {
  std::string table;
  bool insert = true;
  bool update = true;
  bool remove = true;
};

struct ScheduleTrigger {
  Schedule schedule;
  bool catch_up = false;              // replay ticks missed while the server was down
  std::optional<std::string> input;   // JSON text sent instead of the scheduled event
};

// How failed async invocations of the function are retried and where they go after.
struct AsyncPolicy {
  int retries = 2;                                // 0..10 after the first attempt
  std::chrono::milliseconds backoff{1000};        // first retry delay; doubles, with jitter
  std::string on_failure;                         // a function invoked with the failure
  std::string dead_letter = kDeadLetterTopic;     // the topic that receives it
};

struct FunctionTriggers {
  std::vector<QueueTrigger> queues;
  std::vector<StorageTrigger> storage;
  std::vector<TableTrigger> tables;
  std::vector<ScheduleTrigger> schedules;
  AsyncPolicy async;
};

// `triggers` is the spec's list as JSON; `async` its async map (null: defaults).
Result<FunctionTriggers> parse_triggers(const nlohmann::json& triggers,
                                        const nlohmann::json& async);

// Topic names: 1..128 of [A-Za-z0-9._-], starting with a letter or digit; inside Kumo
// optionally after the tenant, TENANT~NAME (common/tenant_name.h).
bool valid_topic_name(const std::string& name);

// The retry delay before attempt `attempt` (2, 3, ...): backoff * 2^(attempt-2), capped at
// 5 minutes, times a random factor in [0.5, 1.5) so retries of many failures spread out.
std::chrono::milliseconds retry_delay(std::chrono::milliseconds backoff, int attempt);

}  // namespace kumo::events
