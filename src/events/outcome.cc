#include "events/outcome.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "common/json.h"
#include "common/tenant_name.h"
#include "events/records.h"

namespace kumo::events {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

int64_t us(milliseconds d) { return d.count() * 1000; }

// A JSON result nested deeper than kMaxJsonDepth is the function's error: it is kept to be
// shown and sent on (on_failure, destinations), which parse it again.
void refuse_deep_result(executor::Reply& reply) {
  if (reply.outcome != executor::Outcome::kOk || reply.streamed) return;
  if (!reply.content_type.empty() && !is_json_content_type(reply.content_type)) return;
  if (auto depth = check_json_depth(reply.body); !depth) {
    reply.outcome = executor::Outcome::kError;
    reply.error_type = "Runtime.MarshalError";
    reply.error_message = "the function's result: " + depth.error().message;
    reply.body.clear();
  }
}

std::string kept_result(Completion& c) {
  std::string result = c.reply.streamed ? std::move(c.streamed) : std::move(c.reply.body);
  if (result.size() <= kMaxResultBytes) return result;
  return json(fmt::format("(a {} byte result, over the {} KiB kept)", result.size(),
                          kMaxResultBytes / 1024))
      .dump();
}

// The dead letters of a batch: each message as it was, with where and why it failed.
void batch_dead_letters(const InvocationRow& row, const std::string& topic, const std::string& type,
                        const BatchLookup& batch, EventsDb::FollowUps& follow) {
  for (auto& m : batch(row.messages)) {
    json attrs = json::parse(m.attributes, nullptr, false);
    Message dl{m.body, attrs.is_object() ? attrs.get<std::map<std::string, std::string>>()
                                         : std::map<std::string, std::string>()};
    dl.attributes["kumo_function"] = local_part(row.function);
    dl.attributes["kumo_request_id"] = row.request_id;
    dl.attributes["kumo_error_type"] = type;
    dl.attributes["kumo_source_topic"] = local_part(m.topic);
    follow.messages.push_back({topic, std::move(dl), {}});
  }
}

// After the last attempt: the dead-letter topic, and the on_failure function if named.
void bury(const InvocationRow& row, const FunctionInfo* info, const std::string& type,
          const std::string& message, int64_t now_us, const BatchLookup& batch,
          EventsDb::FollowUps& follow) {
  spdlog::warn("{}: async invocation {} is dead after {} attempts: {}: {}", row.function,
               row.request_id, row.attempts, type, message);
  std::string topic = info ? info->triggers.async.dead_letter : kDeadLetterTopic;
  // A tenant's failures stay in its tenant: its own dead-letter topic by default.
  if (topic == kDeadLetterTopic) {
    topic = qualify_name(split_internal_name(row.function).tenant, topic);
  }
  if (row.source != "queue:" + topic) {  // a dead letter's own failure is not re-posted
    if (!row.messages.empty()) {
      batch_dead_letters(row, topic, type, batch, follow);
    } else {
      follow.messages.push_back({topic, dead_letter(row, type, message), {}});
    }
  }
  if (info && !info->triggers.async.on_failure.empty()) {
    follow.invocations.push_back(new_invocation(info->triggers.async.on_failure,
                                                failure_record(row, now_us, type, message).dump(),
                                                "on_failure:" + row.function, 1, now_us));
  }
}

// SQS's partial batch response: only the items the handler names are retried, as a new
// invocation that counts on from this one's attempts.
void retry_failed_items(const InvocationRow& row, const std::string& result,
                        const FunctionInfo* info, int64_t now_us, const BatchLookup& batch,
                        EventsDb::FollowUps& follow) {
  auto failed_ids = batch_item_failures(result);
  if (failed_ids.empty()) return;
  std::vector<StoredMessage> failed;
  for (auto& m : batch(row.messages)) {
    if (std::find(failed_ids.begin(), failed_ids.end(), m.id) != failed_ids.end()) {
      failed.push_back(std::move(m));
    }
  }
  if (failed.empty()) return;
  InvocationRow retry = row;
  retry.request_id = new_request_id();
  retry.state = row.attempts < row.max_attempts ? "failed" : "dead";
  retry.payload = queue_event(failed, row.attempts + 1).dump();
  json seqs = json::array();
  for (const auto& m : failed) seqs.push_back(m.seq);
  retry.messages = seqs.dump();
  retry.created_us = retry.updated_us = now_us;
  retry.error_type = "BatchItemFailure";
  retry.error_message = fmt::format("the handler reported {} of the batch failed", failed.size());
  if (retry.state == "dead") {
    bury(retry, info, retry.error_type, retry.error_message, now_us, batch, follow);
  } else {
    milliseconds backoff = info ? info->triggers.async.backoff : milliseconds(1000);
    retry.next_run_us = now_us + us(retry_delay(backoff, row.attempts + 1));
  }
  follow.invocations.push_back(std::move(retry));
}

}  // namespace

Decision decide(Completion c, const FunctionInfo* info, int64_t now_us, const BatchLookup& batch) {
  const InvocationRow& row = c.row;
  executor::Reply& reply = c.reply;
  Decision d;
  d.end.request_id = row.request_id;
  if (reply.outcome == executor::Outcome::kThrottled || !reply.started) {
    // It never ran: back to the queue without using an attempt.
    d.end.state = "queued";
    d.end.refund_attempt = true;
    d.end.next_run_us = now_us + kThrottleRetryUs;
    return d;
  }
  refuse_deep_result(reply);
  if (reply.outcome == executor::Outcome::kOk) {
    d.end.state = "succeeded";
    d.end.result = kept_result(c);
    if (!row.messages.empty()) {
      retry_failed_items(row, d.end.result, info, now_us, batch, d.follow);
    }
    return d;
  }
  d.end.error_type =
      reply.error_type.empty() ? executor::outcome_name(reply.outcome) : reply.error_type;
  d.end.error_message = reply.error_message;
  if (row.attempts < row.max_attempts && info != nullptr) {
    d.end.state = "failed";
    d.end.next_run_us = now_us + us(retry_delay(info->triggers.async.backoff, row.attempts + 1));
  } else {
    d.end.state = "dead";
    bury(row, info, d.end.error_type, d.end.error_message, now_us, batch, d.follow);
  }
  return d;
}

}  // namespace kumo::events
