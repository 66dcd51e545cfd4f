// S3 event notification records: built for the store's own changes, and read from the
// notifications an external S3 or MinIO posts to Kumo. Pure functions, plus Sequencer
// (thread-safe) for the records' increasing "sequencer" field.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "events/sink.h"
#include "storage/s3_error.h"

namespace kumo::storage {

// Hex strings that increase for the life of the data: microseconds since the epoch,
// bumped by one when two changes fall in the same microsecond.
class Sequencer {
 public:
  std::string next(int64_t now_us);

 private:
  std::atomic<int64_t> last_{0};
};

// What one change was; the record's fields come from here.
struct ObjectChange {
  std::string event_name;  // "ObjectCreated:Put", "ObjectRemoved:Delete", ...
  std::string bucket;
  std::string key;  // decoded
  int64_t size = 0;
  std::string etag;  // unquoted
  int64_t time_ms = 0;
  std::string sequencer;
  std::string source_ip;
  std::string request_id;
};

// The key as S3 writes it in records: URL-encoded, '/' kept, space as '+'.
std::string record_key(std::string_view key);

// The ObjectEvent for a change: kind from the event name, record in the S3 JSON shape.
events::ObjectEvent object_event(const ObjectChange& change);

// "2024-05-01T12:34:56.789Z"
std::string iso8601_ms(int64_t time_ms);

// The events in a posted S3/MinIO notification body ({"Records": [...]}); records of other
// kinds than ObjectCreated/ObjectRemoved are counted in `ignored`. An S3 test event
// ({"Event": "s3:TestEvent"}) has none. InvalidArgument names what is malformed.
struct Notification {
  std::vector<events::ObjectEvent> events;
  int ignored = 0;
};
Result<Notification> parse_notification(std::string_view body);

}  // namespace kumo::storage
