#include "metering/metrics.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "metering/billing.h"

namespace kumo::metering {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// `name{function="..."} value`, with optional extra labels already formatted (`,k="v"`).
template <typename V>
void sample(std::string& out, std::string_view name, const std::string& function,
            std::string_view extra, V value) {
  fmt::format_to(std::back_inserter(out), "{}{{function=\"{}\"{}}} {}\n", name,
                 escape_label_value(function), extra, value);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Metrics::on_invocation(const scheduler::InvocationRecord& record) {
  bool billed = is_billed(record.outcome);
  double seconds = static_cast<double>(record.duration_us) / 1e6;
  // Buckets are `le` (<=): a value equal to a bound belongs to that bound's bucket.
  size_t bucket = static_cast<size_t>(
      std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds) -
      kDurationBuckets.begin());
  double gb_s = billed ? gb_seconds(billed_ms(record.duration_us), record.memory_mb) : 0.0;

  std::lock_guard lock(mu_);
  Series& s = series_[record.function];
  ++s.by_outcome[static_cast<size_t>(outcome_index(record.outcome))];
  if (!billed) {
    ++s.throttles;
    return;
  }
  if (record.outcome != executor::Outcome::kOk) ++s.errors;
  if (record.cold_start) ++s.cold_starts;
  s.billed_gb_seconds += gb_s;
  ++s.buckets[bucket];
  s.duration_sum += seconds;
  ++s.duration_count;
}

std::string Metrics::render(PoolGauges pools) const {
  std::map<std::string, Series> series;
  {
    std::lock_guard lock(mu_);
    series = series_;
  }
  std::string out;
  render_counters(series, out);
  render_histogram(series, out);
  render_pools(std::move(pools), out);
  return out;
}

void Metrics::render_counters(const std::map<std::string, Series>& series, std::string& out) {
  family(out, "kumo_invocations_total", "counter", "Finished invocations by outcome.");
  for (const auto& [fn, s] : series) {
    for (int i = 0; i < kOutcomeCount; ++i) {
      if (s.by_outcome[static_cast<size_t>(i)] == 0) continue;
      auto outcome = outcome_text(outcome_at(i));
      sample(out, "kumo_invocations_total", fn, fmt::format(",outcome=\"{}\"", outcome),
             s.by_outcome[static_cast<size_t>(i)]);
    }
  }
  family(out, "kumo_invocation_errors_total", "counter",
         "Invocations that reached an instance and did not end ok.");
  for (const auto& [fn, s] : series) sample(out, "kumo_invocation_errors_total", fn, "", s.errors);
  family(out, "kumo_throttles_total", "counter",
         "Requests that never reached an instance (queue timeout); not billed.");
  for (const auto& [fn, s] : series) sample(out, "kumo_throttles_total", fn, "", s.throttles);
  family(out, "kumo_cold_starts_total", "counter", "Invocations that waited for a new instance.");
  for (const auto& [fn, s] : series) sample(out, "kumo_cold_starts_total", fn, "", s.cold_starts);
  family(out, "kumo_billed_gb_seconds_total", "counter",
         "Billed duration times memory, in GB-seconds.");
  for (const auto& [fn, s] : series) {
    sample(out, "kumo_billed_gb_seconds_total", fn, "", s.billed_gb_seconds);
  }
}

void Metrics::render_histogram(const std::map<std::string, Series>& series, std::string& out) {
  constexpr std::string_view kName = "kumo_invocation_duration_seconds";
  family(out, kName, "histogram", "Invocation duration, from sent to the instance to its reply.");
  for (const auto& [fn, s] : series) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += s.buckets[i];
      sample(out, "kumo_invocation_duration_seconds_bucket", fn,
             fmt::format(",le=\"{}\"", kDurationBuckets[i]), cumulative);
    }
    sample(out, "kumo_invocation_duration_seconds_bucket", fn, ",le=\"+Inf\"", s.duration_count);
    sample(out, "kumo_invocation_duration_seconds_sum", fn, "", s.duration_sum);
    sample(out, "kumo_invocation_duration_seconds_count", fn, "", s.duration_count);
  }
}

void Metrics::render_pools(PoolGauges pools, std::string& out) {
  std::sort(pools.begin(), pools.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  family(out, "kumo_instances", "gauge", "Live instances by state.");
  for (const auto& [fn, p] : pools) {
    sample(out, "kumo_instances", fn, ",state=\"starting\"", p.starting);
    sample(out, "kumo_instances", fn, ",state=\"busy\"", p.busy);
    sample(out, "kumo_instances", fn, ",state=\"idle\"", p.idle);
  }
  family(out, "kumo_queue_depth", "gauge", "Requests waiting for an instance.");
  for (const auto& [fn, p] : pools) sample(out, "kumo_queue_depth", fn, "", p.queued);
  family(out, "kumo_desired_instances", "gauge", "The autoscaler's current target.");
  for (const auto& [fn, p] : pools) sample(out, "kumo_desired_instances", fn, "", p.desired);
}

}  // namespace kumo::metering
