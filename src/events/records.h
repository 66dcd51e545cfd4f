// The JSON a function receives for each kind of event, and the JSON Kumo shows for an
// invocation. Shapes follow the AWS services whose handlers people already have: SQS for
// queue batches, EventBridge for schedules, Lambda destinations for on_failure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/events_db.h"

namespace kumo::events {

// ISO 8601 UTC with milliseconds, "2026-11-26T10:04:49.123Z".
std::string iso_time(int64_t unix_us);

// {"Records": [...]} for a batch of topic messages (SQS's shape). Bodies that are not
// UTF-8 text are base64 and say so in messageAttributes.kumo_body_encoding.
nlohmann::json queue_event(const std::vector<StoredMessage>& batch, int attempt);

// EventBridge's "Scheduled Event" for the tick at `tick_us`.
nlohmann::json schedule_event(const std::string& function, const std::string& expression,
                              int64_t tick_us);

// Lambda's on-failure destination record for an invocation that ran out of attempts at
// `now_us`.
nlohmann::json failure_record(const InvocationRow& row, int64_t now_us,
                              const std::string& error_type, const std::string& error_message);

// The message a dead invocation leaves on the dead-letter topic.
Message dead_letter(const InvocationRow& row, const std::string& error_type,
                    const std::string& error_message);

// GET /api/v1/invocations/{id}.
nlohmann::json invocation_json(const InvocationRow& row);

// A topic message as GET /api/v1/topics/{topic}/messages lists it.
nlohmann::json message_json(const StoredMessage& m);

// Request ids of the batch items a handler reported failed ({"batchItemFailures":
// [{"itemIdentifier": messageId}]}, SQS's partial batch response); empty when none.
std::vector<std::string> batch_item_failures(const std::string& result);

bool is_utf8(std::string_view s);

}  // namespace kumo::events
