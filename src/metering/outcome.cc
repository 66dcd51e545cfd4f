#include "metering/outcome.h"

#include <array>

#include "common/check.h"

namespace kumo::metering {
namespace {

using executor::Outcome;

struct Name {
  Outcome outcome;
  std::string_view text;
};

constexpr std::array<Name, kOutcomeCount> kNames = {{
    {Outcome::kOk, "ok"},
    {Outcome::kError, "error"},
    {Outcome::kTimeout, "timeout"},
    {Outcome::kCrash, "crash"},
    {Outcome::kOom, "oom"},
    {Outcome::kInitError, "init_error"},
    {Outcome::kThrottled, "throttled"},
}};

}  // namespace

int outcome_index(Outcome outcome) {
  for (int i = 0; i < kOutcomeCount; ++i) {
    if (kNames[static_cast<size_t>(i)].outcome == outcome) return i;
  }
  KUMO_CHECK(false && "executor::Outcome without a metering name");
  return 0;
}

executor::Outcome outcome_at(int index) {
  KUMO_CHECK(index >= 0 && index < kOutcomeCount);
  return kNames[static_cast<size_t>(index)].outcome;
}

std::string_view outcome_text(Outcome outcome) {
  return kNames[static_cast<size_t>(outcome_index(outcome))].text;
}

std::optional<Outcome> parse_outcome(std::string_view text) {
  for (const auto& n : kNames) {
    if (n.text == text) return n.outcome;
  }
  return std::nullopt;
}

}  // namespace kumo::metering
