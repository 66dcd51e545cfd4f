// decide(): what to do with one ended attempt of an async invocation, as plain values at a
// given time: succeed; retry with backoff; retry only the batch items the handler reported
// failed (SQS's partial batch response); or, after the last attempt, bury it (a dead letter
// on the function's dead-letter topic, a call of its on_failure function). The dispatcher
// writes the decision back in one transaction (EventsDb::finish).
//
// Pure apart from fresh request ids and the batch lookup it is given; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "events/events_db.h"
#include "events/subscriptions.h"
#include "executor/instance.h"

namespace kumo::events {

inline constexpr size_t kMaxResultBytes = 256 * 1024;  // a longer result is kept as a note
inline constexpr int64_t kThrottleRetryUs = 100'000;   // a throttled attempt's wait

// An attempt as the scheduler ended it.
struct Completion {
  InvocationRow row;  // as claimed: state running, attempts counting this one
  executor::Reply reply;
  std::string streamed;  // the chunks of a streamed result
};

struct Decision {
  AttemptEnd end;
  // Retries of failed batch items, dead letters, on_failure calls. The caller fills in the
  // messages' subscribers and the invocations' max_attempts as they are when it writes them.
  EventsDb::FollowUps follow;
};

// The stored messages of a batch, given its row's `messages` (a JSON array of sequence
// numbers); empty if they cannot be read.
using BatchLookup = std::function<std::vector<StoredMessage>(const std::string& seqs)>;

// `info` is null when the function was removed while the attempt ran: then it is not retried.
Decision decide(Completion completion, const FunctionInfo* info, int64_t now_us,
                const BatchLookup& batch);

}  // namespace kumo::events
