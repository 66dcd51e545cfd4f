// EventsDb: the durable state of the events part, in SQLite tables of the server's database:
//   events_invocations  async invocations and their state (queued, running, succeeded,
//                       failed = waiting for a retry, dead)
//   events_messages     the embedded topics' messages, kept for a while for reading back
//   events_pending      messages not yet handed to a subscribed function
//   events_schedules    the last tick each schedule trigger fired
// Each method is one transaction, committed before it returns. Thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "events/sink.h"
#include "store/sqlite.h"

namespace kumo::events {

struct InvocationRow {
  std::string request_id;
  std::string function;
  std::string payload;
  std::string source;
  std::string state = "queued";
  int attempts = 0;       // attempts started
  int max_attempts = 3;   // retries + 1
  int64_t next_run_us = 0;
  int64_t created_us = 0;
  int64_t updated_us = 0;
  std::string result;
  std::string error_type;
  std::string error_message;
  std::string messages;   // a queue batch: JSON array of the messages' sequence numbers
};

// A new invocation of `function`, queued and due at `now_us`, with a fresh request id.
InvocationRow new_invocation(const std::string& function, std::string payload, std::string source,
                             int max_attempts, int64_t now_us);

struct StoredMessage {
  int64_t seq = 0;
  std::string id;
  std::string topic;
  std::string body;
  std::string attributes;  // JSON object text
  int64_t created_us = 0;
};

// How one attempt ended, to be written back.
struct AttemptEnd {
  std::string request_id;
  std::string state;          // queued (throttled: no attempt used), succeeded, failed, dead
  bool refund_attempt = false;
  int64_t next_run_us = 0;    // for queued/failed
  std::string result;
  std::string error_type;
  std::string error_message;
};

class EventsDb {
 public:
  static Result<std::unique_ptr<EventsDb>> open(const std::string& path);

  // Invocations that were running when the server stopped go back to the queue.
  Result<int> recover();
  Result<void> insert(const std::vector<InvocationRow>& rows);
  // Due invocations of `function` (queued or failed, next_run_us <= now), oldest first,
  // marked running with one more attempt.
  Result<std::vector<InvocationRow>> claim(const std::string& function, int64_t now_us,
                                           int limit);
  // When the earliest queued or failed invocation of `function` is due, if it has any.
  Result<std::optional<int64_t>> next_run(const std::string& function) const;
  // Writes attempt ends, and in the same transaction the follow-up invocations and topic
  // messages they caused (retries of failed batch items, on_failure calls, dead letters).
  struct TopicMessage {
    std::string topic;
    Message message;
    std::vector<std::string> subscribers;
  };
  struct FollowUps {
    std::vector<InvocationRow> invocations;
    std::vector<TopicMessage> messages;
  };
  Result<void> finish(const std::vector<AttemptEnd>& ends, const FollowUps& follow_ups,
                      int64_t now_us);
  Result<std::optional<InvocationRow>> get(const std::string& request_id) const;
  // Ends every queued invocation of a removed function as dead.
  Result<int> bury(const std::string& function, const std::string& why, int64_t now_us);

  // Appends a message and a pending delivery per subscriber, both dated `now_us` (a batch
  // window counts from it). Returns {seq, id}.
  Result<std::pair<int64_t, std::string>> publish(const std::string& topic, const Message& m,
                                                  const std::vector<std::string>& subscribers,
                                                  int64_t now_us);
  // Pending deliveries for (function, topic): how many and the oldest's age.
  struct PendingInfo {
    int count = 0;
    int64_t oldest_us = 0;
  };
  Result<PendingInfo> pending(const std::string& function, const std::string& topic) const;
  // Takes up to `batches` x `batch_size` pending messages for (function, topic), oldest
  // first, and turns each run of `batch_size` (the last may be shorter) into one invocation
  // built by `make`, atomically. Returns how many messages it took.
  using BatchMaker = std::function<InvocationRow(const std::vector<StoredMessage>&)>;
  Result<int> take_batches(const std::string& function, const std::string& topic,
                           int batch_size, int batches, const BatchMaker& make);
  Result<std::vector<StoredMessage>> messages_by_seq(const std::vector<int64_t>& seqs) const;
  Result<std::vector<StoredMessage>> messages(const std::string& topic, int64_t after,
                                              int limit) const;
  // Drops a function's undelivered messages of topics it no longer subscribes to.
  Result<void> unsubscribe(const std::string& function, const std::vector<std::string>& keep);

  // The last tick a schedule fired (Unix µs), if it ever did.
  Result<std::optional<int64_t>> schedule_last(const std::string& function,
                                               const std::string& key) const;
  // Records `tick_us` as fired and queues its invocation, atomically.
  Result<void> fire_schedule(const std::string& function, const std::string& key,
                             int64_t tick_us, const InvocationRow& invocation);
  Result<void> set_schedule_last(const std::string& function, const std::string& key,
                                 int64_t tick_us);

  // Deletes finished invocations and messages older than `before_us`.
  Result<void> collect(int64_t before_us);

 private:
  explicit EventsDb(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}
  Result<void> insert_locked(const InvocationRow& row);
  Result<std::pair<int64_t, std::string>> publish_locked(
      const std::string& topic, const Message& m, const std::vector<std::string>& subscribers,
      int64_t now_us);

  mutable std::mutex mu_;
  std::unique_ptr<store::Database> db_;  // Guarded by mu_.
};

}  // namespace kumo::events
