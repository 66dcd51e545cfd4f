// Metering's own names for executor::Outcome, as stored in the usage table and used as the
// `outcome` label in /metrics. Kept here (not executor's outcome_name) so metering links
// nothing of the executor and the stored names stay stable if the executor's change.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "executor/instance.h"

namespace kumo::metering {

inline constexpr int kOutcomeCount = 7;

// "ok", "error", "timeout", "crash", "oom", "init_error", "throttled".
std::string_view outcome_text(executor::Outcome outcome);
// The inverse of outcome_text; nullopt for an unknown name.
std::optional<executor::Outcome> parse_outcome(std::string_view text);
// Index 0..kOutcomeCount-1, for per-outcome arrays.
int outcome_index(executor::Outcome outcome);
// The inverse of outcome_index.
executor::Outcome outcome_at(int index);

// Throttled invocations never reached an instance: recorded, but neither billed nor counted
// as invocations (as Lambda does not bill throttles).
inline bool is_billed(executor::Outcome outcome) {
  return outcome != executor::Outcome::kThrottled;
}

}  // namespace kumo::metering
