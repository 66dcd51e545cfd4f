#include "storage/event_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <initializer_list>
#include <optional>

#include "common/json.h"
#include "common/tenant_name.h"
#include "http/types.h"

namespace kumo::storage {
namespace {

using events::ObjectEvent;

nlohmann::json object_part(const ObjectChange& c, bool created) {
  nlohmann::json object = {{"key", record_key(c.key)}};
  if (created) {
    object["size"] = c.size;
    object["eTag"] = c.etag;
  }
  object["sequencer"] = c.sequencer;
  return object;
}

// The string at j[a][b][c], or "" when any step is missing or of another type.
std::string string_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &j;
  for (const char* step : path) {
    if (!at->is_object()) return {};
    auto it = at->find(step);
    if (it == at->end()) return {};
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : std::string();
}

Error bad_record(size_t index, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, fmt::format("Records[{}]: {}", index, what));
}

// One posted record; nullopt for a kind the triggers do not take.
Result<std::optional<ObjectEvent>> parse_record(size_t index, const nlohmann::json& r) {
  if (!r.is_object()) return bad_record(index, "expected an object");
  auto name = r.find("eventName");
  if (name == r.end() || !name->is_string()) return bad_record(index, "eventName is missing");
  std::string event_name = name->get<std::string>();
  ObjectEvent event;
  if (event_name.find("ObjectCreated:") != std::string::npos) {
    event.kind = ObjectEvent::Kind::kCreated;
  } else if (event_name.find("ObjectRemoved:") != std::string::npos) {
    event.kind = ObjectEvent::Kind::kRemoved;
  } else {
    return std::optional<ObjectEvent>();
  }
  event.bucket = string_at(r, {"s3", "bucket", "name"});
  std::string key = string_at(r, {"s3", "object", "key"});
  if (event.bucket.empty()) return bad_record(index, "s3.bucket.name is missing");
  if (key.empty()) return bad_record(index, "s3.object.key is missing");
  event.key = http::url_decode(key, true);
  event.record = r;
  return std::optional(std::move(event));
}

}  // namespace

std::string Sequencer::next(int64_t now_us) {
  int64_t last = last_.load();
  int64_t value = 0;
  do {
    value = std::max(now_us, last + 1);
  } while (!last_.compare_exchange_weak(last, value));
  return fmt::format("{:016X}", value);
}

std::string record_key(std::string_view key) {
  std::string encoded = http::url_encode(key, true);
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded.compare(i, 3, "%20") == 0) {
      out += '+';
      i += 2;
    } else {
      out += encoded[i];
    }
  }
  return out;
}

std::string iso8601_ms(int64_t time_ms) {
  std::time_t secs = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, time_ms % 1000);
}

events::ObjectEvent object_event(const ObjectChange& c) {
  bool created = c.event_name.starts_with("ObjectCreated:");
  // The function sees its own tenant's bucket by the name it knows; triggers match the
  // internal one (event.bucket).
  std::string bucket(local_part(c.bucket));
  nlohmann::json record = {
      {"eventVersion", "2.1"},
      {"eventSource", "aws:s3"},
      {"awsRegion", "us-east-1"},
      {"eventTime", iso8601_ms(c.time_ms)},
      {"eventName", c.event_name},
      {"userIdentity", {{"principalId", "kumo"}}},
      {"requestParameters", {{"sourceIPAddress", c.source_ip}}},
      {"responseElements", {{"x-amz-request-id", c.request_id}, {"x-amz-id-2", c.request_id}}},
      {"s3",
       {{"s3SchemaVersion", "1.0"},
        {"configurationId", "kumo"},
        {"bucket",
         {{"name", bucket},
          {"ownerIdentity", {{"principalId", "kumo"}}},
          {"arn", "arn:aws:s3:::" + bucket}}},
        {"object", object_part(c, created)}}},
  };
  ObjectEvent event;
  event.kind = created ? ObjectEvent::Kind::kCreated : ObjectEvent::Kind::kRemoved;
  event.bucket = c.bucket;
  event.key = c.key;
  event.record = std::move(record);
  return event;
}

Result<Notification> parse_notification(std::string_view body) {
  auto parsed = parse_json(body);
  if (!parsed || !parsed->is_object()) {
    std::string what =
        parsed ? "the body is not a JSON object" : "the body: " + parsed.error().message;
    return make_error(ErrorCode::kInvalidArgument,
                      what + "; send an S3 event notification ({\"Records\": [...]})");
  }
  const nlohmann::json& j = *parsed;
  Notification out;
  auto records = j.find("Records");
  if (records == j.end()) {
    if (j.value("Event", "") == "s3:TestEvent") return out;
    return make_error(ErrorCode::kInvalidArgument,
                      "the body has no \"Records\" array; send an S3 event notification");
  }
  if (!records->is_array()) {
    return make_error(ErrorCode::kInvalidArgument, "\"Records\" must be an array");
  }
  for (size_t i = 0; i < records->size(); ++i) {
    auto event = parse_record(i, (*records)[i]);
    if (!event) return event.error();
    if (*event) {
      out.events.push_back(std::move(**event));
    } else {
      ++out.ignored;
    }
  }
  return out;
}

}  // namespace kumo::storage
