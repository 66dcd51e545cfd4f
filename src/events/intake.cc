#include "events/intake.h"

#include <algorithm>

#include <fmt/format.h>

#include "events/records.h"
#include "events/triggers.h"

namespace kumo::events {
namespace {

using nlohmann::json;

constexpr size_t kMaxMessageBytes = 256 * 1024;

}  // namespace

Intake::Intake(EventsDb& db, const Subscriptions& subscriptions, const WallClock& clock,
               std::chrono::milliseconds retention, std::function<void()> wake)
    : db_(db),
      subscriptions_(subscriptions),
      clock_(clock),
      retention_(retention),
      wake_(std::move(wake)) {}

void Intake::wake() const {
  if (wake_) wake_();
}

Result<std::string> Intake::invoke_async(AsyncRequest request) {
  if (!subscriptions_.contains(request.function)) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("function '{}' not found; `kumo ls` lists the deployed ones",
                                  request.function));
  }
  InvocationRow row =
      new_invocation(request.function, std::move(request.payload), std::move(request.source),
                     subscriptions_.max_attempts(request.function), clock_.now_us());
  if (!request.request_id.empty()) row.request_id = request.request_id;
  if (auto r = db_.insert({row}); !r) return r.error();
  wake();
  return row.request_id;
}

Result<json> Intake::invocation(const std::string& request_id) const {
  auto row = db_.get(request_id);
  if (!row) return row.error();
  if (!*row) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("no asynchronous invocation '{}' (finished ones are kept for "
                                  "{} h)",
                                  request_id, retention_.count() / 3'600'000));
  }
  return invocation_json(**row);
}

Result<json> Intake::messages(const std::string& topic, int64_t after, int limit) const {
  if (!valid_topic_name(topic)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a topic name", topic));
  }
  auto rows = db_.messages(topic, after, std::clamp(limit, 1, 1000));
  if (!rows) return rows.error();
  json list = json::array();
  for (const auto& m : *rows) list.push_back(message_json(m));
  return json{{"topic", topic}, {"messages", list}};
}

Result<std::string> Intake::publish(const std::string& topic, Message message) {
  if (!valid_topic_name(topic)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a topic name (1..128 of letters, digits, '.', '_', "
                                  "'-')",
                                  topic));
  }
  if (message.body.size() > kMaxMessageBytes) {
    return make_error(ErrorCode::kTooLarge,
                      fmt::format("the message is {} bytes; the limit is {} KiB",
                                  message.body.size(), kMaxMessageBytes / 1024));
  }
  std::vector<std::string> subscribers = subscriptions_.subscribers(topic);
  auto published = db_.publish(topic, message, subscribers, clock_.now_us());
  if (!published) return published.error();
  if (!subscribers.empty()) wake();
  return published->second;
}

Result<int> Intake::insert_matches(const std::vector<Match>& matches, const std::string& payload,
                                   const std::string& source) {
  if (matches.empty()) return 0;
  std::vector<InvocationRow> rows;
  int64_t now = clock_.now_us();
  for (const auto& m : matches) {
    rows.push_back(new_invocation(m.function, payload, source, m.max_attempts, now));
  }
  if (auto r = db_.insert(rows); !r) return r.error();
  wake();
  return static_cast<int>(rows.size());
}

Result<int> Intake::object_changed(const ObjectEvent& event) {
  std::string payload = json{{"Records", json::array({event.record})}}.dump();
  return insert_matches(subscriptions_.storage_matches(event), payload, "storage:" + event.bucket);
}

Result<int> Intake::table_changed(const TableChange& change) {
  std::string payload = json{{"Records", json::array({change.record})}}.dump();
  return insert_matches(subscriptions_.table_matches(change), payload, "table:" + change.table);
}

}  // namespace kumo::events
