// Builds a UsageReport from usage rows: per-function sums and exact duration and queue-time
// percentiles.
// Used by UsageStore::report(); separate so the arithmetic is testable without a database.
// A ReportBuilder is a plain value used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "executor/instance.h"
#include "metering/billing.h"
#include "metering/usage_store.h"

namespace kumo::metering {

// One stored invocation, as far as the report needs it.
struct UsageRow {
  std::string function;
  int64_t duration_us = 0;
  int64_t billed_ms = 0;
  double gb_seconds = 0;
  bool cold_start = false;
  executor::Outcome outcome = executor::Outcome::kOk;
  int64_t queue_us = 0;
};

// The nearest-rank percentile (p in 1..100) of ascending-sorted values; 0 when empty.
int64_t nearest_rank(const std::vector<int64_t>& sorted, int p);

class ReportBuilder {
 public:
  void add(const UsageRow& row);
  UsageReport build(int64_t since_us, const Prices& prices) &&;

 private:
  struct Acc {
    FunctionUsage usage;
    std::vector<int64_t> durations_us;
    std::vector<int64_t> queues_us;
  };
  static void add_to(Acc& acc, const UsageRow& row);
  static FunctionUsage finish(Acc& acc, const Prices& prices);

  std::map<std::string, Acc> by_function_;
  std::map<std::string, Acc, std::less<>> by_tenant_;
  Acc total_;
};

}  // namespace kumo::metering
