#include "cli/render.h"

#include <fmt/format.h>

#include "cli/render_util.h"

namespace kumo::cli {

using nlohmann::json;

Result<std::string> render_instances(const json& instances) {
  return guarded("instances", [&]() -> std::string {
    if (!instances.is_object()) return "0";
    std::vector<std::string> parts;
    for (const char* state : {"busy", "starting", "queued"}) {
      int64_t n = int_field(instances, state);
      if (n > 0) parts.push_back(fmt::format("{} {}", n, state));
    }
    int64_t total = int_field(instances, "total");
    if (parts.empty()) return std::to_string(total);
    return fmt::format("{} ({})", total, fmt::join(parts, ", "));
  });
}

Result<std::string> render_function_list(const json& reply, int64_t now_us, const Style& style) {
  return guarded("function list", [&]() -> std::string {
    const json& functions = reply.at("functions");
    if (functions.empty()) return "no functions deployed; deploy one with `kumo deploy DIR`\n";
    Table table(
        {"NAME", "VERSION", "RUNTIME", "MEMORY", "INSTANCES", "DEPLOYED"},
        {Align::kLeft, Align::kRight, Align::kLeft, Align::kRight, Align::kLeft, Align::kLeft});
    for (const json& f : functions) {
      auto instances = render_instances(f.value("instances", json::object()));
      table.add_row({str_field(f, "name"), std::to_string(int_field(f, "version")),
                     str_field(f, "runtime"), format_memory_mb(int_field(f, "memory_mb")),
                     instances.value_or("?"),
                     format_relative(int_field(f, "created_at_us"), now_us)});
    }
    return table.render(style);
  });
}

Result<std::string> render_deployed(const json& reply, uint64_t package_bytes, const Style& style) {
  return guarded("deploy", [&]() -> std::string {
    std::string details = format_bytes(package_bytes);
    std::string sha = str_field(reply, "sha256");
    if (!sha.empty()) details += ", sha256 " + sha.substr(0, 8);
    bool unchanged = reply.value("unchanged", false);
    return fmt::format("{} {} version {} ({})\n",
                       unchanged ? style.green("unchanged") : style.green("deployed"),
                       reply.at("name").get<std::string>(), int_field(reply, "version"), details);
  });
}

namespace {

std::vector<std::string> usage_cells(const json& row, std::string name) {
  return {std::move(name),
          std::to_string(int_field(row, "invocations")),
          std::to_string(int_field(row, "errors")),
          std::to_string(int_field(row, "cold_starts")),
          format_ms(double_field(row, "p50_ms")),
          format_ms(double_field(row, "p99_ms")),
          format_decimal(double_field(row, "gb_seconds")),
          format_usd(double_field(row, "cost_usd"))};
}

std::string usage_heading(const json& reply) {
  std::string heading = "usage since " + format_utc(int_field(reply, "since_us"));
  json prices = reply.value("prices", json::object());
  if (prices.contains("per_gb_second") || prices.contains("per_million_requests")) {
    heading += fmt::format(" (prices: {} per GB-s, {} per million requests)",
                           format_usd(double_field(prices, "per_gb_second")),
                           format_usd(double_field(prices, "per_million_requests")));
  }
  return heading + "\n";
}

// The operator's report of several tenants: a total per tenant, after the functions. None
// when every function is the default tenant's (a server without tenants reads as before).
std::string render_tenant_totals(const json& reply, const Style& style) {
  const json tenants = reply.value("tenants", json::array());
  if (!tenants.is_array() || tenants.empty()) return "";
  if (tenants.size() == 1 && tenants[0].value("tenant", "") == "default") return "";
  Table table({"TENANT", "INVOCATIONS", "ERRORS", "COLD", "P50", "P99", "GB-S", "COST"},
              {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
               Align::kRight, Align::kRight, Align::kRight});
  for (const json& t : tenants) table.add_row(usage_cells(t, str_field(t, "tenant")));
  return "\n" + table.render(style);
}

}  // namespace

Result<std::string> render_usage(const json& reply, const Style& style) {
  return guarded("usage", [&]() -> std::string {
    std::string out = usage_heading(reply);
    const json& functions = reply.at("functions");
    if (functions.empty()) return out + "no invocations in this period\n";
    Table table({"FUNCTION", "INVOCATIONS", "ERRORS", "COLD", "P50", "P99", "GB-S", "COST"},
                {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
                 Align::kRight, Align::kRight, Align::kRight});
    for (const json& f : functions) table.add_row(usage_cells(f, str_field(f, "function")));
    if (reply.contains("total")) table.add_row(usage_cells(reply.at("total"), "TOTAL"));
    return out + table.render(style) + render_tenant_totals(reply, style);
  });
}

std::string format_spec_duration(int64_t ms) {
  if (ms > 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms > 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms > 0 && ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace kumo::cli
