#include "registry/spec.h"

#include <gtest/gtest.h>

namespace kumo::registry {
namespace {

using std::chrono::milliseconds;

const char* kMinimal = "name: detect\nruntime: python3\nhandler: main.handle\n";

// Parses kMinimal plus `extra` and returns the error message ("" when it parsed).
std::string error_of(const std::string& extra) {
  auto r = parse_spec(std::string(kMinimal) + extra);
  if (r) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  return r.error().message;
}

TEST(Spec, FillsDefaults) {
  auto s = parse_spec(kMinimal);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->name, "detect");
  EXPECT_EQ(s->runtime, Runtime::kPython3);
  EXPECT_EQ(s->handler, "main.handle");
  EXPECT_EQ(s->memory_mb, 128);
  EXPECT_EQ(s->timeout, milliseconds(30'000));
  EXPECT_EQ(s->concurrency, 1);
  EXPECT_EQ(s->min_instances, 0);
  EXPECT_EQ(s->max_instances, 10);
  EXPECT_EQ(s->idle_timeout, milliseconds(60'000));
  EXPECT_EQ(s->max_queue, 100);
  EXPECT_TRUE(s->env.empty());
  EXPECT_EQ(s->triggers, nlohmann::json::array());
}

TEST(Spec, ReadsEveryField) {
  auto s = parse_spec(R"(
name: resize-2
runtime: exec
handler: ./server --port $PORT
memory: 512
timeout: 500ms
concurrency: 8
min_instances: 2
max_instances: 20
idle_timeout: 5m
max_queue: 0
env: {MODEL: small, THREADS: 4, DEBUG: true}
triggers:
  - http: {path: /resize, methods: [POST]}
  - schedule: {cron: "*/5 * * * *"}
)");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->runtime, Runtime::kExec);
  EXPECT_EQ(s->handler, "./server --port $PORT");
  EXPECT_EQ(s->memory_mb, 512);
  EXPECT_EQ(s->timeout, milliseconds(500));
  EXPECT_EQ(s->concurrency, 8);
  EXPECT_EQ(s->min_instances, 2);
  EXPECT_EQ(s->max_instances, 20);
  EXPECT_EQ(s->idle_timeout, milliseconds(300'000));
  EXPECT_EQ(s->max_queue, 0);
  EXPECT_EQ(s->env.at("MODEL"), "small");
  EXPECT_EQ(s->env.at("THREADS"), "4");
  EXPECT_EQ(s->env.at("DEBUG"), "true");
  ASSERT_EQ(s->triggers.size(), 2u);
  EXPECT_EQ(s->triggers[0]["http"]["path"], "/resize");
  EXPECT_EQ(s->triggers[0]["http"]["methods"][0], "POST");
  EXPECT_EQ(s->triggers[1]["schedule"]["cron"], "*/5 * * * *");
}

TEST(Spec, AcceptsTimeoutAsNumberOfSeconds) {
  auto s = parse_spec(std::string(kMinimal) + "timeout: 45\n");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->timeout, milliseconds(45'000));
}

TEST(Spec, AcceptsDottedPythonModule) {
  auto s = parse_spec("name: a\nruntime: python3\nhandler: pkg.sub.mod.handle\n");
  ASSERT_TRUE(s.has_value()) << s.error().message;
}

TEST(Spec, RequiresNameRuntimeAndHandler) {
  EXPECT_EQ(parse_spec("runtime: python3\nhandler: m.f\n").error().message, "name: required");
  EXPECT_EQ(parse_spec("name: a\nhandler: m.f\n").error().message, "runtime: required");
  EXPECT_EQ(parse_spec("name: a\nruntime: exec\n").error().message, "handler: required");
}

TEST(Spec, RejectsBadNames) {
  for (const char* bad : {"Detect", "1abc", "-abc", "a_b", "a.b", "\"\""}) {
    auto r = parse_spec(std::string("name: ") + bad + "\nruntime: exec\nhandler: x\n");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message.rfind("name:", 0), 0u) << r.error().message;
  }
  std::string longest(63, 'a');
  EXPECT_TRUE(parse_spec("name: " + longest + "\nruntime: exec\nhandler: x\n").has_value());
  EXPECT_FALSE(parse_spec("name: " + longest + "a\nruntime: exec\nhandler: x\n").has_value());
}

TEST(Spec, RejectsUnknownAndUnsupportedRuntimes) {
  auto ruby = parse_spec("name: a\nruntime: ruby\nhandler: m.f\n");
  ASSERT_FALSE(ruby.has_value());
  EXPECT_EQ(ruby.error().message, "runtime: 'ruby' is not one of python3, exec, model");
  for (const char* later : {"node", "provided"}) {
    auto r = parse_spec(std::string("name: a\nruntime: ") + later + "\nhandler: m.f\n");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("not supported yet"), std::string::npos);
  }
}

TEST(Spec, RejectsPythonHandlerWithoutFunction) {
  for (const char* bad : {"main", "main.", ".handle", "main..handle", "1main.handle", "m.f g"}) {
    auto r = parse_spec(std::string("name: a\nruntime: python3\nhandler: '") + bad + "'\n");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message.rfind("handler:", 0), 0u) << r.error().message;
  }
  EXPECT_FALSE(parse_spec("name: a\nruntime: exec\nhandler: '  '\n").has_value());
}

TEST(Spec, ChecksIntegerBounds) {
  EXPECT_EQ(error_of("memory: 64\n"), "memory: must be 128..10240 MB, got 64");
  EXPECT_EQ(error_of("memory: 10241\n"), "memory: must be 128..10240 MB, got 10241");
  EXPECT_EQ(error_of("memory: 10240\n"), "");
  EXPECT_EQ(error_of("memory: lots\n"), "memory: must be an integer, got 'lots'");
  EXPECT_EQ(error_of("memory: 99999999999999999999\n").rfind("memory:", 0), 0u);
  EXPECT_EQ(error_of("concurrency: 0\n"), "concurrency: must be 1..1000, got 0");
  EXPECT_EQ(error_of("concurrency: 1001\n"), "concurrency: must be 1..1000, got 1001");
  EXPECT_EQ(error_of("min_instances: -1\n"), "min_instances: must be 0..1000, got -1");
  EXPECT_EQ(error_of("max_instances: 0\n"), "max_instances: must be 1..1000, got 0");
  EXPECT_EQ(error_of("max_instances: 1001\n"), "max_instances: must be 1..1000, got 1001");
  EXPECT_EQ(error_of("max_queue: -1\n"), "max_queue: must be 0..100000, got -1");
  EXPECT_EQ(error_of("max_queue: 100001\n"), "max_queue: must be 0..100000, got 100001");
  EXPECT_EQ(error_of("min_instances: 3\nmax_instances: 2\n"),
            "min_instances: must be <= max_instances (2), got 3");
}

TEST(Spec, ChecksDurationBounds) {
  EXPECT_EQ(error_of("timeout: 1ms\n"), "");
  EXPECT_EQ(error_of("timeout: 15m\n"), "");
  EXPECT_EQ(error_of("timeout: 0s\n"), "timeout: must be 1ms..15m, got 0s");
  EXPECT_EQ(error_of("timeout: 16m\n"), "timeout: must be 1ms..15m, got 16m");
  EXPECT_EQ(error_of("timeout: soon\n").rfind("timeout: 'soon' is not a duration", 0), 0u);
  EXPECT_EQ(error_of("timeout: 1e300h\n"), "timeout: '1e300h' is too large");
  EXPECT_EQ(error_of("timeout: .nan\n").rfind("timeout:", 0), 0u);
  EXPECT_EQ(error_of("idle_timeout: 0s\n"), "");
  EXPECT_EQ(error_of("idle_timeout: 25h\n"), "idle_timeout: must be 0s..24h, got 25h");
}

TEST(Spec, RejectsUnknownTopLevelKey) {
  std::string e = error_of("memroy: 256\n");
  EXPECT_EQ(e.rfind("memroy: unknown field", 0), 0u) << e;
}

TEST(Spec, ReportsBadYamlWithPosition) {
  auto r = parse_spec("name: a\nruntime: [python3\nhandler: m.f\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("invalid YAML at line"), std::string::npos);
  EXPECT_FALSE(parse_spec("").has_value());
  EXPECT_FALSE(parse_spec("- just\n- a list\n").has_value());
  EXPECT_FALSE(parse_spec("name: {a: 1}\nruntime: exec\nhandler: x\n").has_value());
}

TEST(Spec, RejectsBadTriggers) {
  EXPECT_EQ(error_of("triggers: {http: {path: /x}}\n").rfind("triggers: must be a list", 0), 0u);
  EXPECT_EQ(error_of("triggers: [cron]\n").rfind("triggers[0]: must be a map", 0), 0u);
  EXPECT_EQ(error_of("triggers:\n  - {http: {path: /x}, queue: {topic: t}}\n")
                .rfind("triggers[0]: must be a map with exactly one", 0),
            0u);
  EXPECT_EQ(error_of("triggers:\n  - http: {path: /x}\n  - cron: {at: noon}\n"),
            "triggers[1]: unknown trigger 'cron'; use one of http, storage, queue, table, "
            "schedule");
  EXPECT_EQ(error_of("triggers:\n  - queue: jobs\n"), "triggers[0].queue: must be a map");
}

TEST(Spec, ChecksEnv) {
  EXPECT_EQ(error_of("env: [A, B]\n"), "env: must be a map of NAME: value");
  EXPECT_EQ(error_of("env: {bad-key: 1}\n").rfind("env: 'bad-key' is not a valid variable", 0), 0u);
  EXPECT_EQ(error_of("env: {1ABC: x}\n").rfind("env: '1ABC'", 0), 0u);
  EXPECT_EQ(error_of("env: {A: [1, 2]}\n").rfind("env.A: must be a plain value", 0), 0u);
  EXPECT_EQ(error_of("env: {_A1: '', b: 2.50}\n"), "");
}

TEST(Spec, EphemeralStorageDefaultsTo512MbAndIsBoundedLikeMemory) {
  auto s = parse_spec(kMinimal);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->ephemeral_storage_mb, 512);
  EXPECT_EQ(parse_spec(std::string(kMinimal) + "ephemeral_storage: 2048\n")->ephemeral_storage_mb,
            2048);
  EXPECT_EQ(error_of("ephemeral_storage: 511\n"),
            "ephemeral_storage: must be 512..10240 MB, got 511");
  EXPECT_EQ(error_of("ephemeral_storage: 10241\n"),
            "ephemeral_storage: must be 512..10240 MB, got 10241");
  EXPECT_EQ(error_of("ephemeral_storage: big\n"),
            "ephemeral_storage: must be an integer, got 'big'");
  nlohmann::json j = spec_to_json(*s);
  EXPECT_EQ(j["ephemeral_storage_mb"], 512);
  j["ephemeral_storage_mb"] = 100;
  EXPECT_EQ(spec_from_json(j).error().message,
            "ephemeral_storage: must be 512..10240 MB, got 100");
}

TEST(Spec, JsonRoundTrip) {
  auto s = parse_spec(std::string(kMinimal) +
                      "timeout: 2m\nenv: {A: b}\ntriggers:\n  - queue: {topic: jobs}\n");
  ASSERT_TRUE(s.has_value());
  nlohmann::json j = spec_to_json(*s);
  EXPECT_EQ(j["timeout_ms"], 120'000);
  EXPECT_EQ(j["idle_timeout_ms"], 60'000);
  EXPECT_EQ(j["runtime"], "python3");
  auto back = spec_from_json(j);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(spec_to_json(*back), j);
}

TEST(Spec, KumoYamlNameCannotNameATenant) {
  for (const char* bad : {"acme~detect", "~detect", "detect~"}) {
    auto r = parse_spec(std::string("name: ") + bad + "\nruntime: exec\nhandler: x\n");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message.rfind("name:", 0), 0u) << r.error().message;
  }
}

TEST(Spec, StoredSpecKeepsItsTenantQualifiedName) {
  nlohmann::json j = spec_to_json(*parse_spec(kMinimal));
  j["name"] = "acme~detect";
  auto back = spec_from_json(j);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->name, "acme~detect");
  for (const char* bad : {"~detect", "acme~", "Acme~detect", "a~b~detect", "acme~Detect"}) {
    j["name"] = bad;
    EXPECT_FALSE(spec_from_json(j).has_value()) << bad;
  }
}

TEST(Spec, FromJsonValidates) {
  nlohmann::json j = spec_to_json(*parse_spec(kMinimal));
  j["memory_mb"] = 64;
  EXPECT_EQ(spec_from_json(j).error().message, "memory: must be 128..10240 MB, got 64");
  EXPECT_FALSE(spec_from_json(nlohmann::json{{"name", 3}}).has_value());
  EXPECT_FALSE(spec_from_json(nlohmann::json::array()).has_value());
}

}  // namespace
}  // namespace kumo::registry

namespace kumo::registry {
namespace {

TEST(SpecAiFields, ReadsZygoteGpuBatchAndTheModelRuntime) {
  auto spec = parse_spec(
      "name: m\nruntime: model\nhandler: model.onnx\nzygote: false\ngpu: 1\n"
      "batch: {max_size: 8, max_delay: 5ms}\n");
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->runtime, Runtime::kModel);
  EXPECT_FALSE(spec->zygote);
  EXPECT_EQ(spec->gpu, 1);
  EXPECT_EQ(spec->batch_max_size, 8);
  EXPECT_EQ(spec->batch_max_delay, std::chrono::milliseconds(5));
  auto back = spec_from_json(spec_to_json(*spec));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->batch_max_size, 8);
  EXPECT_EQ(back->batch_max_delay, std::chrono::milliseconds(5));
  EXPECT_FALSE(back->zygote);
}

TEST(SpecAiFields, RejectsBadValuesNamingTheField) {
  auto bad_batch = parse_spec("name: m\nruntime: model\nhandler: m.onnx\nbatch: {max_size: 0}\n");
  ASSERT_FALSE(bad_batch.has_value());
  EXPECT_NE(bad_batch.error().message.find("batch.max_size"), std::string::npos);
  auto bad_gpu = parse_spec("name: m\nruntime: python3\nhandler: a.b\ngpu: 99\n");
  ASSERT_FALSE(bad_gpu.has_value());
  EXPECT_NE(bad_gpu.error().message.find("gpu"), std::string::npos);
  auto bad_zygote = parse_spec("name: m\nruntime: python3\nhandler: a.b\nzygote: maybe\n");
  ASSERT_FALSE(bad_zygote.has_value());
  EXPECT_NE(bad_zygote.error().message.find("zygote"), std::string::npos);
}

// Nine levels of ten aliases each: a billion strings once expanded, from about 600 bytes.
std::string billion_laughs() {
  std::string doc = std::string(kMinimal) + "async:\n  l0: &a0 [lol";
  for (int j = 1; j < 10; ++j) doc += ", lol";
  doc += "]\n";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    doc += "  l" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 10; ++j) doc += ", " + prev;
    doc += "]\n";
  }
  return doc;
}

TEST(SpecYamlLimits, RejectsTheBillionLaughsWithoutExpandingIt) {
  std::string doc = billion_laughs();
  ASSERT_LT(doc.size(), 700u);
  auto r = parse_spec(doc);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("kumo.yaml: has more than 10000 nodes once its aliases are "
                                   "expanded"),
            std::string::npos)
      << r.error().message;
}

TEST(SpecYamlLimits, RejectsAnAliasInsideItsOwnAnchor) {
  auto r = parse_spec(std::string(kMinimal) + "async: &loop {again: *loop}\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("names the list or map that contains it"), std::string::npos)
      << r.error().message;
}

TEST(SpecYamlLimits, RejectsDeepNestingNamingTheLimit) {
  std::string deep = "async: {a: " + std::string(500, '[') + std::string(500, ']') + "}\n";
  auto r = parse_spec(std::string(kMinimal) + deep);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("the limit is 64 levels"), std::string::npos)
      << r.error().message;
}

TEST(SpecYamlLimits, RejectsTextOverTheSizeLimit) {
  std::string big = std::string(kMinimal) + "# " + std::string(70 * 1024, 'x') + "\n";
  auto r = parse_spec(big);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("the limit is 65536 bytes"), std::string::npos)
      << r.error().message;
}

TEST(SpecYamlLimits, AcceptsOrdinaryAliases) {
  auto r = parse_spec(std::string(kMinimal) +
                      "env: &shared {A: '1'}\nasync: {on_failure: {dead_letter: true}, "
                      "copy: *shared}\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->async["copy"]["A"], "1");
}

}  // namespace
}  // namespace kumo::registry
