// EventSink: where event sources (the object store, tables, broker connectors, CloudEvents
// ingest) hand over what happened. The events part implements it: it matches the event
// against the deployed functions' triggers and writes one durable async invocation per
// match (or, for topics, one pending delivery per subscriber).
//
// Every method returns only after what it accepted is committed to disk, so a source may
// acknowledge upstream (answer 200, ack a broker message) once it returns a value. An
// error means nothing was committed and the source should not acknowledge.
// Threading: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace kumo::events {

// One message for an embedded topic.
struct Message {
  std::string body;                               // any bytes; JSON is passed on as text
  std::map<std::string, std::string> attributes;  // e.g. the source broker's subject/headers
};

// A created or removed object, with its S3 event notification record already built.
struct ObjectEvent {
  enum class Kind { kCreated, kRemoved };
  Kind kind = Kind::kCreated;
  std::string bucket;
  std::string key;     // decoded (not URL-encoded); the record itself carries the encoded key
  nlohmann::json record;  // one element of S3's "Records" array
};

// A changed row or item, with its DynamoDB Streams-shaped record already built.
struct TableChange {
  enum class Kind { kInsert, kModify, kRemove };
  Kind kind = Kind::kInsert;
  std::string table;
  nlohmann::json record;  // one element of a DynamoDB Streams "Records" array
};

const char* kind_name(TableChange::Kind kind);  // "insert", "update", "delete" (trigger words)

// The topic that receives what cannot be delivered: dead async invocations (unless a function
// names another in `async.dead_letter`) and source records that cannot be read.
inline constexpr const char* kDeadLetterTopic = "dead-letters";

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Appends a message to `topic` and queues it for every subscribed function. Returns its id.
  // kInvalidArgument for a bad topic name or a body over the limit (256 KiB).
  virtual Result<std::string> publish(const std::string& topic, Message message) = 0;
  // Queues one invocation per function whose storage trigger matches. Returns how many.
  virtual Result<int> object_changed(const ObjectEvent& event) = 0;
  // Queues one invocation per function whose table trigger matches. Returns how many.
  virtual Result<int> table_changed(const TableChange& change) = 0;
};

// Which tables exist, so a deploy whose `table` trigger names a missing one gets a 400.
// Implemented by the tables part (embedded tables and those a connector watches).
class TableCatalog {
 public:
  virtual ~TableCatalog() = default;
  virtual bool table_exists(const std::string& name) const = 0;
};

}  // namespace kumo::events
