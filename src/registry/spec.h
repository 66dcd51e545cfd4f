// FunctionSpec: a function's kumo.yaml, parsed and validated.
//
// parse_spec() turns YAML text into a FunctionSpec, filling defaults, and rejects a bad
// spec with kInvalidArgument and a message naming the field at fault and why
// ("memory: must be 128..10240 MB, got 64"). Values are plain; thread-safe.
//
// SpecValidator: a further check of a spec by a part that interprets some of it (events: the
// triggers; the GPU inventory: `gpu`). It sits here, beside FunctionSpec, because the parts
// that implement it (events, functions) and the one that runs it (functions) all depend on
// the registry, and none of them on each other for it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "registry/spec_access.h"

namespace kumo::registry {

enum class Runtime { kPython3, kExec, kModel };

const char* runtime_name(Runtime r);

struct FunctionSpec {
  std::string name;                  // [a-z0-9-], 1..63 chars, starts with a letter
  Runtime runtime = Runtime::kPython3;
  std::string handler;               // python3: "module.function"; exec: a command line;
                                     // model: the model file in the package (model.onnx)
  int memory_mb = 128;               // 128..10240
  int ephemeral_storage_mb = 512;    // 512..10240: the instance's writable /tmp
  std::chrono::milliseconds timeout{30'000};       // 1ms..15m
  int concurrency = 1;               // 1..1000 requests one instance serves at once
  int min_instances = 0;             // 0..max_instances
  int max_instances = 10;            // 1..1000
  std::chrono::milliseconds idle_timeout{60'000};  // 0..24h
  int max_queue = 100;               // requests waiting for an instance before 429
  std::map<std::string, std::string> env;
  nlohmann::json triggers = nlohmann::json::array();  // kept as written; events interpret them
  nlohmann::json async = nlohmann::json::object();    // retries, backoff, on_failure, dead_letter
  bool zygote = true;                // python3: fork instances from a template that ran init
  bool network = false;              // outbound network; else only loopback (docs/security.md)
  int gpu = 0;                       // 0..16 devices each instance needs
  int batch_max_size = 1;            // model: requests stacked into one forward pass, 1..1024
  std::chrono::milliseconds batch_max_delay{0};  // model: wait up to this to fill a batch
  AccessSpec access;                 // permissions, auth, cors (spec_access.h)
};

// Parses and validates kumo.yaml text. Unknown top-level keys are rejected (typos are bugs).
Result<FunctionSpec> parse_spec(std::string_view yaml_text);

// The spec as JSON, as `kumo describe --json` shows it and as it is persisted. Keys are the
// struct's: name, runtime, handler, memory_mb, ephemeral_storage_mb, timeout_ms, concurrency, min_instances,
// max_instances, idle_timeout_ms, max_queue, env, triggers, async, zygote, gpu, batch
// ({max_size, max_delay_ms}), network, permissions (a list of grants), auth ("key" or
// "none"), cors (null or its fields). spec_from_json validates as parse_spec does.
nlohmann::json spec_to_json(const FunctionSpec& spec);
Result<FunctionSpec> spec_from_json(const nlohmann::json& j);

// Implemented by the parts that interpret a spec; functions::Functions runs the validators it
// was given on every spec before deploying it. validate() must be thread-safe; its error
// (kInvalidArgument naming the field) refuses the deploy with its message.
class SpecValidator {
 public:
  virtual ~SpecValidator() = default;
  virtual Result<void> validate(const FunctionSpec& spec) const = 0;
};

}  // namespace kumo::registry

namespace YAML {
class Node;
}

namespace kumo::registry {

// YAML as JSON: plain scalars get JSON types (true, 3, 1.5, null); quoted ones stay strings.
nlohmann::json yaml_to_json(const YAML::Node& n);

}  // namespace kumo::registry
