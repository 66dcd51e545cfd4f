#include "metering/metrics.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

namespace kumo::metering {
namespace {

using executor::Outcome;
using scheduler::InvocationRecord;

InvocationRecord record(std::string fn, int64_t duration_us, Outcome outcome = Outcome::kOk,
                        bool cold = false) {
  InvocationRecord r;
  r.function = std::move(fn);
  r.duration_us = duration_us;
  r.memory_mb = 1024;
  r.outcome = outcome;
  r.cold_start = cold;
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Whether `line` appears as a whole line of `text`.
bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

PoolGauges sample_pools() {
  scheduler::PoolStats detect{.starting = 1, .busy = 2, .idle = 3, .queued = 4, .desired = 5};
  return {{"detect", detect}};
}

TEST(Metrics, CountsInvocationsByOutcome) {
  Metrics m;
  m.on_invocation(record("detect", 2000));
  m.on_invocation(record("detect", 3000, Outcome::kOk, true));
  m.on_invocation(record("detect", 30'000'000, Outcome::kTimeout));
  m.on_invocation(record("detect", 0, Outcome::kThrottled));
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, R"(kumo_invocations_total{function="detect",outcome="ok"} 2)"));
  EXPECT_TRUE(has_line(text, R"(kumo_invocations_total{function="detect",outcome="timeout"} 1)"));
  EXPECT_TRUE(has_line(text, R"(kumo_invocations_total{function="detect",outcome="throttled"} 1)"));
  EXPECT_TRUE(has_line(text, R"(kumo_invocation_errors_total{function="detect"} 1)"));
  EXPECT_TRUE(has_line(text, R"(kumo_throttles_total{function="detect"} 1)"));
  EXPECT_TRUE(has_line(text, R"(kumo_cold_starts_total{function="detect"} 1)"));
  // 2 ms + 3 ms + 30 s at 1 GB.
  EXPECT_TRUE(has_line(text, R"(kumo_billed_gb_seconds_total{function="detect"} 30.005)"));
}

TEST(Metrics, DurationHistogramIsCumulativeWithInclusiveBounds) {
  Metrics m;
  m.on_invocation(record("f", 500));         // exactly 0.0005 s: the first bucket
  m.on_invocation(record("f", 2000));        // 0.002 s: le 0.0025
  m.on_invocation(record("f", 90'000'000));  // past 60 s: only +Inf
  std::string text = m.render();
  const std::string b = "kumo_invocation_duration_seconds_bucket{function=\"f\",le=";
  EXPECT_TRUE(has_line(text, b + "\"0.0005\"} 1"));
  EXPECT_TRUE(has_line(text, b + "\"0.001\"} 1"));
  EXPECT_TRUE(has_line(text, b + "\"0.0025\"} 2"));
  EXPECT_TRUE(has_line(text, b + "\"60\"} 2"));
  EXPECT_TRUE(has_line(text, b + "\"+Inf\"} 3"));
  EXPECT_TRUE(has_line(text, R"(kumo_invocation_duration_seconds_count{function="f"} 3)"));
  EXPECT_TRUE(has_line(text, R"(kumo_invocation_duration_seconds_sum{function="f"} 90.0025)"));
}

TEST(Metrics, RendersThePoolGaugesItIsGiven) {
  std::string text = Metrics().render(sample_pools());
  EXPECT_TRUE(has_line(text, R"(kumo_instances{function="detect",state="starting"} 1)"));
  EXPECT_TRUE(has_line(text, R"(kumo_instances{function="detect",state="busy"} 2)"));
  EXPECT_TRUE(has_line(text, R"(kumo_instances{function="detect",state="idle"} 3)"));
  EXPECT_TRUE(has_line(text, R"(kumo_queue_depth{function="detect"} 4)"));
  EXPECT_TRUE(has_line(text, R"(kumo_desired_instances{function="detect"} 5)"));
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Metrics m;
  m.on_invocation(record("we\"ird\\fn", 1000));
  EXPECT_TRUE(has_line(m.render(), R"(kumo_cold_starts_total{function="we\"ird\\fn"} 0)"));
}

// Every line is a HELP/TYPE comment or a sample of a family whose TYPE came before it.
TEST(Metrics, RenderParsesAsPrometheusText) {
  Metrics m;
  m.on_invocation(record("detect", 1234));
  m.on_invocation(record("resize", 5'000'000, Outcome::kCrash, true));
  m.on_invocation(record("odd \"name\"\n", 1, Outcome::kInitError));
  const std::regex comment(R"(# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+))");
  const std::regex sample_line(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")"
      R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? )"
      R"((-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|\+Inf|-Inf|NaN))");
  const std::set<std::string> types = {"counter", "gauge", "histogram"};
  std::set<std::string> typed;
  std::set<std::string> families_with_samples;
  std::string text = m.render(sample_pools());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  for (const auto& line : lines_of(text)) {
    std::smatch match;
    if (std::regex_match(line, match, comment)) {
      if (match[1] == "TYPE") {
        EXPECT_TRUE(types.count(match[3])) << line;
        EXPECT_TRUE(typed.insert(match[2]).second) << "TYPE twice: " << line;
      }
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, match, sample_line)) << "not a sample: " << line;
    std::string name = match[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s(suffix);
      if (!typed.count(name) && name.size() > s.size() &&
          name.compare(name.size() - s.size(), s.size(), s) == 0) {
        name.resize(name.size() - s.size());
      }
    }
    EXPECT_TRUE(typed.count(name)) << "sample before its TYPE: " << line;
    families_with_samples.insert(name);
  }
  for (const char* family : {"kumo_invocations_total", "kumo_invocation_errors_total",
                             "kumo_cold_starts_total", "kumo_invocation_duration_seconds",
                             "kumo_instances", "kumo_queue_depth", "kumo_desired_instances"}) {
    EXPECT_TRUE(families_with_samples.count(family)) << family;
  }
}

TEST(Metrics, ConcurrentObservationsAreAllCounted) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) m.on_invocation(record("f", 1000));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(has_line(m.render(), R"(kumo_invocations_total{function="f",outcome="ok"} 4000)"));
}

}  // namespace
}  // namespace kumo::metering
