#include "events/records.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "common/base64.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/tenant_name.h"

namespace kumo::events {
namespace {

using nlohmann::json;

// The payload as JSON when it parses within kMaxJsonDepth, else as a string: what is shown
// or sent on is dumped again, and a deeper value (stored by an older release) would overflow
// the stack there.
json as_json(const std::string& text) {
  if (auto j = parse_json(text)) return std::move(*j);
  return is_utf8(text) ? json(text) : json(base64_encode(text));
}

}  // namespace

// nlohmann's encoder is strict (overlong forms, surrogates): the same check the event's
// serialisation would fail on.
bool is_utf8(std::string_view s) {
  try {
    (void)json(std::string(s)).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

std::string iso_time(int64_t unix_us) {
  std::time_t secs = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>((unix_us / 1000) % 1000));
}

json queue_event(const std::vector<StoredMessage>& batch, int attempt) {
  json records = json::array();
  for (const auto& m : batch) {
    auto attrs = parse_json(m.attributes);
    json message_attributes = json::object();
    if (attrs && attrs->is_object()) {
      for (const auto& [k, v] : attrs->items()) {
        message_attributes[k] = {{"stringValue", v}, {"dataType", "String"}};
      }
    }
    bool text = is_utf8(m.body);
    if (!text) message_attributes["kumo_body_encoding"] = {{"stringValue", "base64"},
                                                           {"dataType", "String"}};
    records.push_back({
        {"messageId", m.id},
        {"receiptHandle", m.id},
        {"body", text ? m.body : base64_encode(m.body)},
        {"attributes",
         {{"ApproximateReceiveCount", std::to_string(attempt)},
          {"SentTimestamp", std::to_string(m.created_us / 1000)},
          {"SequenceNumber", std::to_string(m.seq)}}},
        {"messageAttributes", message_attributes},
        {"eventSource", "kumo:queue"},
        {"eventSourceARN", fmt::format("arn:kumo:queue:local:{}", local_part(m.topic))},
        {"awsRegion", "local"},
    });
  }
  return {{"Records", records}};
}

json schedule_event(const std::string& function, const std::string& expression,
                    int64_t tick_us) {
  return {{"version", "0"},
          {"id", new_request_id()},
          {"detail-type", "Scheduled Event"},
          {"source", "kumo.schedule"},
          {"account", "local"},
          {"time", iso_time(tick_us).substr(0, 19) + "Z"},
          {"region", "local"},
          {"resources",
           {fmt::format("arn:kumo:schedule:local:{}/{}", local_part(function), expression)}},
          {"detail", json::object()}};
}

json failure_record(const InvocationRow& row, int64_t now_us, const std::string& error_type,
                    const std::string& error_message) {
  return {{"version", "1.0"},
          {"timestamp", iso_time(now_us)},
          {"requestContext",
           {{"requestId", row.request_id},
            {"functionArn", fmt::format("arn:kumo:function:local:{}", local_part(row.function))},
            {"condition", "RetriesExhausted"},
            {"approximateInvokeCount", row.attempts}}},
          {"requestPayload", as_json(row.payload)},
          {"responseContext", {{"statusCode", 200}, {"functionError", "Unhandled"}}},
          {"responsePayload", {{"errorType", error_type}, {"errorMessage", error_message}}}};
}

Message dead_letter(const InvocationRow& row, const std::string& error_type,
                    const std::string& error_message) {
  json body = {{"request_id", row.request_id},
               {"function", local_part(row.function)},
               {"source", row.source},
               {"attempts", row.attempts},
               {"error", {{"type", error_type}, {"message", error_message}}},
               {"payload", as_json(row.payload)}};
  return Message{body.dump(), {{"kumo_function", std::string(local_part(row.function))},
                               {"kumo_request_id", row.request_id},
                               {"kumo_error_type", error_type}}};
}

json invocation_json(const InvocationRow& row) {
  json j = {{"request_id", row.request_id},
            {"function", row.function},
            {"state", row.state},
            {"attempts", row.attempts},
            {"max_attempts", row.max_attempts},
            {"source", row.source},
            {"created_at", iso_time(row.created_us)},
            {"updated_at", iso_time(row.updated_us)}};
  if (row.state == "succeeded") j["result"] = as_json(row.result);
  if (!row.error_type.empty()) {
    j["error"] = {{"type", row.error_type}, {"message", row.error_message}};
  }
  if (row.state == "queued" || row.state == "failed") {
    j["next_attempt_at"] = iso_time(row.next_run_us);
  }
  return j;
}

json message_json(const StoredMessage& m) {
  auto attrs = parse_json(m.attributes);
  bool text = is_utf8(m.body);
  json j = {{"seq", m.seq},
            {"id", m.id},
            {"topic", local_part(m.topic)},
            {"body", text ? m.body : base64_encode(m.body)},
            {"attributes", attrs && attrs->is_object() ? *attrs : json::object()},
            {"published_at", iso_time(m.created_us)}};
  if (!text) j["body_encoding"] = "base64";
  return j;
}

std::vector<std::string> batch_item_failures(const std::string& result) {
  std::vector<std::string> out;
  auto parsed = parse_json(result);
  if (!parsed || !parsed->is_object()) return out;
  const json& j = *parsed;
  auto it = j.find("batchItemFailures");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& item : *it) {
    if (item.is_object() && item.contains("itemIdentifier") && item["itemIdentifier"].is_string())
      out.push_back(item["itemIdentifier"].get<std::string>());
  }
  return out;
}

}  // namespace kumo::events
