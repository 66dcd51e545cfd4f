#include "metering/usage_report.h"

#include <algorithm>

#include "common/tenant_name.h"
#include "metering/outcome.h"

namespace kumo::metering {

int64_t nearest_rank(const std::vector<int64_t>& sorted, int p) {
  if (sorted.empty()) return 0;
  // rank = ceil(p/100 * n), in integers so 50% of 10 is exactly rank 5.
  auto n = static_cast<int64_t>(sorted.size());
  int64_t rank = std::max<int64_t>(1, (p * n + 99) / 100);
  return sorted[static_cast<size_t>(std::min(rank, n) - 1)];
}

void ReportBuilder::add(const UsageRow& row) {
  Acc& acc = by_function_[row.function];
  acc.usage.function = row.function;
  add_to(acc, row);
  std::string tenant(tenant_part(row.function));
  Acc& tenant_acc = by_tenant_[tenant];
  tenant_acc.usage.function = tenant;
  add_to(tenant_acc, row);
  add_to(total_, row);
}

void ReportBuilder::add_to(Acc& acc, const UsageRow& row) {
  FunctionUsage& u = acc.usage;
  if (!is_billed(row.outcome)) {
    ++u.throttles;
    return;
  }
  ++u.invocations;
  if (row.outcome != executor::Outcome::kOk) ++u.errors;
  if (row.cold_start) ++u.cold_starts;
  u.billed_ms += row.billed_ms;
  u.gb_seconds += row.gb_seconds;
  acc.durations_us.push_back(row.duration_us);
  acc.queues_us.push_back(row.queue_us);
}

FunctionUsage ReportBuilder::finish(Acc& acc, const Prices& prices) {
  std::sort(acc.durations_us.begin(), acc.durations_us.end());
  std::sort(acc.queues_us.begin(), acc.queues_us.end());
  FunctionUsage u = acc.usage;
  u.p50_ms = static_cast<double>(nearest_rank(acc.durations_us, 50)) / 1000.0;
  u.p99_ms = static_cast<double>(nearest_rank(acc.durations_us, 99)) / 1000.0;
  u.queue_p50_ms = static_cast<double>(nearest_rank(acc.queues_us, 50)) / 1000.0;
  u.queue_p99_ms = static_cast<double>(nearest_rank(acc.queues_us, 99)) / 1000.0;
  u.cost_usd = cost(u.gb_seconds, u.invocations, prices);
  return u;
}

UsageReport ReportBuilder::build(int64_t since_us, const Prices& prices) && {
  UsageReport report;
  report.since_us = since_us;
  for (auto& [name, acc] : by_function_) report.functions.push_back(finish(acc, prices));
  for (auto& [name, acc] : by_tenant_) report.tenants.push_back(finish(acc, prices));
  report.total = finish(total_, prices);
  // The total cost is the sum of the rows above it, so the column adds up to the last digit.
  report.total.cost_usd = 0;
  for (const auto& f : report.functions) report.total.cost_usd += f.cost_usd;
  return report;
}

namespace {

nlohmann::json usage_json(const FunctionUsage& u, bool with_name) {
  nlohmann::json j;
  if (with_name) j["function"] = u.function;
  j["invocations"] = u.invocations;
  j["errors"] = u.errors;
  j["cold_starts"] = u.cold_starts;
  j["throttles"] = u.throttles;
  j["p50_ms"] = u.p50_ms;
  j["p99_ms"] = u.p99_ms;
  j["queue_p50_ms"] = u.queue_p50_ms;
  j["queue_p99_ms"] = u.queue_p99_ms;
  j["billed_ms"] = u.billed_ms;
  j["gb_seconds"] = u.gb_seconds;
  j["cost_usd"] = u.cost_usd;
  return j;
}

}  // namespace

nlohmann::json to_json(const UsageReport& report, const Prices& prices) {
  nlohmann::json functions = nlohmann::json::array();
  for (const auto& f : report.functions) functions.push_back(usage_json(f, true));
  nlohmann::json tenants = nlohmann::json::array();
  for (const auto& t : report.tenants) {
    nlohmann::json j = usage_json(t, false);
    j["tenant"] = t.function;
    tenants.push_back(std::move(j));
  }
  return {
      {"since_us", report.since_us},
      {"prices",
       {{"per_gb_second", prices.per_gb_second},
        {"per_million_requests", prices.per_million_requests}}},
      {"functions", std::move(functions)},
      {"tenants", std::move(tenants)},
      {"total", usage_json(report.total, false)},
  };
}

}  // namespace kumo::metering
