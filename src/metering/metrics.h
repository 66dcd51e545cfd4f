// Metrics: Prometheus counters and histograms of finished invocations, plus live pool gauges,
// rendered in the Prometheus text exposition format (version 0.0.4) for `GET /metrics`.
//
// Series: kumo_invocations_total{function,outcome}, kumo_invocation_errors_total{function},
// kumo_throttles_total{function}, kumo_cold_starts_total{function},
// kumo_billed_gb_seconds_total{function}, kumo_invocation_duration_seconds{function}
// (histogram), and from the pool counts render() is given kumo_instances{function,state},
// kumo_queue_depth{function}, kumo_desired_instances{function}.
//
// The pools' counts come as render()'s argument (the api asks functions::Functions for them)
// rather than from a source held here, because Metrics is built before the scheduler it
// observes, and the scheduler before what lists its pools.
//
// Thread-safety: on_invocation and render may be called from any thread; on_invocation holds
// one mutex for a map lookup and a few increments.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "metering/outcome.h"
#include "scheduler/scheduler.h"

namespace kumo::metering {

// Each function's live pool counts.
using PoolGauges = std::vector<std::pair<std::string, scheduler::PoolStats>>;

// Upper bounds (seconds) of the duration histogram's buckets, before +Inf.
inline constexpr std::array<double, 16> kDurationBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

class Metrics final : public scheduler::InvocationObserver {
 public:
  void on_invocation(const scheduler::InvocationRecord& record) override;

  // The whole exposition, with # HELP and # TYPE for every family and the gauges of `pools`
  // (may be empty); functions sorted by name.
  std::string render(PoolGauges pools = {}) const;

  // The Content-Type to serve render() with.
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Series {
    std::array<uint64_t, kOutcomeCount> by_outcome{};
    uint64_t errors = 0;
    uint64_t throttles = 0;
    uint64_t cold_starts = 0;
    double billed_gb_seconds = 0;
    std::array<uint64_t, kDurationBuckets.size() + 1> buckets{};  // not cumulative; last: +Inf
    double duration_sum = 0;
    uint64_t duration_count = 0;
  };
  static void render_counters(const std::map<std::string, Series>& series, std::string& out);
  static void render_histogram(const std::map<std::string, Series>& series, std::string& out);
  static void render_pools(PoolGauges pools, std::string& out);

  mutable std::mutex mu_;
  std::map<std::string, Series> series_;  // Guarded by mu_.
};

// Escapes a label value for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

}  // namespace kumo::metering
