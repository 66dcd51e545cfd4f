#include "cli/render.h"

#include <gtest/gtest.h>

namespace kumo::cli {
namespace {

using nlohmann::json;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kNow = 1'800'000'000 * kSecond;

TEST(RenderInstances, ShowsBusyStartingAndQueuedOnlyWhenNonZero) {
  EXPECT_EQ(render_instances(json{{"total", 0}, {"busy", 0}, {"idle", 0}}).value(), "0");
  EXPECT_EQ(render_instances(json{{"total", 2}, {"busy", 1}, {"idle", 1}}).value(), "2 (1 busy)");
  EXPECT_EQ(render_instances(json{{"total", 1}, {"starting", 1}, {"queued", 3}}).value(),
            "1 (1 starting, 3 queued)");
}

TEST(RenderFunctionList, PrintsAnAlignedTableWithHumanUnits) {
  json reply = json::parse(R"({"functions": [
    {"name": "hello", "version": 3, "runtime": "python3", "memory_mb": 128,
     "instances": {"total": 2, "busy": 1, "idle": 1, "starting": 0, "queued": 0},
     "created_at_us": 1799999700000000},
    {"name": "detect-objects", "version": 12, "runtime": "exec", "memory_mb": 2048,
     "instances": {"total": 0, "busy": 0, "idle": 0, "starting": 0, "queued": 0},
     "created_at_us": 1799992800000000}]})");
  EXPECT_EQ(render_function_list(reply, kNow, Style{}).value(),
            "NAME            VERSION  RUNTIME  MEMORY  INSTANCES   DEPLOYED\n"
            "hello                 3  python3  128 MB  2 (1 busy)  5m ago\n"
            "detect-objects       12  exec       2 GB  0           2h ago\n");
}

TEST(RenderFunctionList, SaysHowToDeployWhenEmpty) {
  auto text = render_function_list(json{{"functions", json::array()}}, kNow, Style{});
  EXPECT_NE(text.value().find("kumo deploy"), std::string::npos);
}

TEST(RenderFunctionList, ReportsAReplyOfTheWrongShape) {
  auto text = render_function_list(json{{"items", 1}}, kNow, Style{});
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, ErrorCode::kInternal);
  EXPECT_NE(text.error().message.find("unexpected shape"), std::string::npos);
}

TEST(RenderDeployed, NamesVersionSizeAndShortDigest) {
  json reply = {{"name", "hello"}, {"version", 3}, {"sha256", "ab12cd34ef56"}};
  EXPECT_EQ(render_deployed(reply, 12'400, Style{}).value(),
            "deployed hello version 3 (12.4 kB, sha256 ab12cd34)\n");
}

TEST(RenderDeployed, SaysUnchangedWhenTheServerKeptTheVersion) {
  json reply = {{"name", "hello"}, {"version", 3}, {"sha256", "ab12cd34ef56"}, {"unchanged", true}};
  EXPECT_EQ(render_deployed(reply, 12'400, Style{}).value(),
            "unchanged hello version 3 (12.4 kB, sha256 ab12cd34)\n");
}

TEST(RenderFunction, PrintsKeyValuesThenVersions) {
  json reply = json::parse(R"({
    "name": "hello", "version": 2, "sha256": "ab12cd34ef56aa77", "created_at_us": 1799999700000000,
    "spec": {"name": "hello", "runtime": "python3", "handler": "main.handle", "memory_mb": 512,
             "timeout_ms": 30000, "concurrency": 1, "min_instances": 0, "max_instances": 10,
             "idle_timeout_ms": 60000, "max_queue": 100, "env": {"MODE": "fast"},
             "triggers": [{"schedule": {"cron": "*/5 * * * *"}}]},
    "versions": [{"version": 2, "sha256": "ab12cd34ef56aa77", "created_at_us": 1799999700000000},
                 {"version": 1, "sha256": "0011223344556677", "created_at_us": 1799913600000000}],
    "instances": {"total": 1, "busy": 0, "idle": 1}})");
  EXPECT_EQ(render_function(reply, kNow, Style{}).value(),
            "name:         hello\n"
            "version:      2\n"
            "sha256:       ab12cd34ef56aa77\n"
            "deployed:     2027-01-15 07:55:00 UTC (5m ago)\n"
            "runtime:      python3\n"
            "handler:      main.handle\n"
            "memory:       512 MB\n"
            "timeout:      30s\n"
            "concurrency:  1\n"
            "scaling:      min 0, max 10 instances, idle timeout 1m\n"
            "max queue:    100\n"
            "env:          MODE=fast\n"
            "triggers:     schedule {\"cron\":\"*/5 * * * *\"}\n"
            "instances:    1\n"
            "\n"
            "VERSION  SHA256        DEPLOYED\n"
            "      2  ab12cd34ef56  2027-01-15 07:55:00 UTC (5m ago)\n"
            "      1  001122334455  2027-01-14 08:00:00 UTC (1d ago)\n");
}

TEST(RenderFunction, IndentsMultiLineValues) {
  json reply = {{"name", "f"}, {"spec", {{"env", {{"A", "1"}, {"B", "2"}}}}}};
  EXPECT_EQ(render_function(reply, kNow, Style{}).value(),
            "name:       f\n"
            "env:        A=1\n"
            "            B=2\n"
            "instances:  0\n");
}

TEST(RenderUsage, PrintsPerFunctionRowsAndATotal) {
  json reply = json::parse(R"({
    "since_us": 1799913600000000,
    "prices": {"per_gb_second": 0.0000166667, "per_million_requests": 0.2},
    "functions": [
      {"function": "hello", "invocations": 1200, "errors": 3, "cold_starts": 2, "p50_ms": 0.42,
       "p99_ms": 12.4, "billed_ms": 1500, "gb_seconds": 0.1875, "cost_usd": 0.000243},
      {"function": "resize", "invocations": 5, "errors": 0, "cold_starts": 1, "p50_ms": 1500,
       "p99_ms": 2100, "billed_ms": 9000, "gb_seconds": 4.5, "cost_usd": 0.0000760}],
    "total": {"function": "", "invocations": 1205, "errors": 3, "cold_starts": 3, "p50_ms": 0.45,
              "p99_ms": 1900, "billed_ms": 10500, "gb_seconds": 4.6875, "cost_usd": 0.000319}})");
  EXPECT_EQ(render_usage(reply, Style{}).value(),
            "usage since 2027-01-14 08:00:00 UTC (prices: $0.0000167 per GB-s, $0.2 per million "
            "requests)\n"
            "FUNCTION  INVOCATIONS  ERRORS  COLD      P50     P99   GB-S       COST\n"
            "hello            1200       3     2  0.42 ms   12 ms  0.188  $0.000243\n"
            "resize              5       0     1   1.50 s  2.10 s    4.5  $0.000076\n"
            "TOTAL            1205       3     3  0.45 ms  1.90 s   4.69  $0.000319\n");
}

TEST(RenderUsage, TheOperatorsReportOfSeveralTenantsEndsWithATotalPerTenant) {
  json reply = json::parse(R"({
    "since_us": 1799913600000000,
    "prices": {"per_gb_second": 0.0000166667, "per_million_requests": 0.2},
    "functions": [
      {"function": "acme~hello", "invocations": 2, "errors": 0, "cold_starts": 1, "p50_ms": 1,
       "p99_ms": 2, "billed_ms": 3, "gb_seconds": 0.5, "cost_usd": 0.00001},
      {"function": "hello", "invocations": 1, "errors": 1, "cold_starts": 1, "p50_ms": 1,
       "p99_ms": 1, "billed_ms": 1, "gb_seconds": 0.25, "cost_usd": 0.000005}],
    "tenants": [
      {"tenant": "acme", "invocations": 2, "errors": 0, "cold_starts": 1, "p50_ms": 1,
       "p99_ms": 2, "billed_ms": 3, "gb_seconds": 0.5, "cost_usd": 0.00001},
      {"tenant": "default", "invocations": 1, "errors": 1, "cold_starts": 1, "p50_ms": 1,
       "p99_ms": 1, "billed_ms": 1, "gb_seconds": 0.25, "cost_usd": 0.000005}],
    "total": {"invocations": 3, "errors": 1, "cold_starts": 2, "p50_ms": 1, "p99_ms": 2,
              "billed_ms": 4, "gb_seconds": 0.75, "cost_usd": 0.000015}})");
  std::string text = render_usage(reply, Style{}).value();
  auto tenants_at = text.find("TENANT ");
  ASSERT_NE(tenants_at, std::string::npos) << text;
  EXPECT_NE(text.find("\nacme ", tenants_at), std::string::npos) << text;
  EXPECT_NE(text.find("\ndefault ", tenants_at), std::string::npos) << text;
  EXPECT_LT(text.find("TOTAL"), tenants_at);

  reply["tenants"] = json::array({reply["tenants"][1]});  // the default tenant alone
  EXPECT_EQ(render_usage(reply, Style{}).value().find("TENANT"), std::string::npos);
}

TEST(FormatSpecDuration, WritesTheLargestWholeUnit) {
  EXPECT_EQ(format_spec_duration(30'000), "30s");
  EXPECT_EQ(format_spec_duration(250), "250ms");
  EXPECT_EQ(format_spec_duration(300'000), "5m");
  EXPECT_EQ(format_spec_duration(3'600'000), "1h");
  EXPECT_EQ(format_spec_duration(0), "0ms");
}

}  // namespace
}  // namespace kumo::cli
