// ChangeRecord: one changed item or row, and the DynamoDB Streams-shaped record built from
// it (one element of a stream event's "Records" array), which `table` triggers receive.
// Embedded tables and the PostgreSQL connector both describe their changes this way.
// Pure value and functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "events/sink.h"

namespace kumo::tables {

struct ChangeRecord {
  events::TableChange::Kind kind = events::TableChange::Kind::kInsert;
  std::string table;        // the Kumo table name triggers use
  nlohmann::json keys;      // attribute-value map, e.g. {"key": {"S": "user/1"}}
  nlohmann::json old_item;  // plain JSON object; null for an insert
  nlohmann::json new_item;  // plain JSON object; null for a remove
  int64_t sequence = 0;     // increasing per source
  int64_t at_seconds = 0;   // Unix time of the change
  std::string event_id;     // stable across redeliveries, so handlers can drop duplicates
  std::string unreadable;   // non-empty: why an image could not be read (e.g. an item an
                            // older release stored nested too deep); goes to a dead letter
};

// "INSERT", "MODIFY" or "REMOVE".
const char* event_name(events::TableChange::Kind kind);

// The stream ARN of a table: "arn:kumo:tables:local:table/<name>/stream".
std::string stream_arn(const std::string& table);

// A sequence number as DynamoDB writes it: decimal digits, zero-padded to 21 so that
// comparing the strings orders them like the numbers.
std::string sequence_number(int64_t sequence);

// {"eventID", "eventName", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
//  "awsRegion": "us-east-1", "dynamodb": {...}, "eventSourceARN"}.
nlohmann::json build_record(const ChangeRecord& change);

// The record wrapped for EventSink::table_changed().
events::TableChange to_table_change(const ChangeRecord& change);

// The topic message for a change that cannot be delivered (`reason`): its table, kind, keys,
// sequence and event id, without the images. For events::kDeadLetterTopic.
events::Message undeliverable_change(const ChangeRecord& change, const std::string& reason);

}  // namespace kumo::tables
