#include "registry/spec.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

#include "common/units.h"
#include "common/tenant_name.h"
#include "registry/yaml_limits.h"

namespace kumo::registry {
namespace {

using std::chrono::milliseconds;

constexpr std::array<const char*, 21> kKnownKeys = {
    "name",          "runtime",       "handler",      "memory",    "timeout", "concurrency",
    "min_instances", "max_instances", "idle_timeout", "max_queue", "env",     "triggers",
    "async",         "zygote",        "gpu",          "batch",     "ephemeral_storage",
    "network",       "permissions",   "auth",         "cors"};
constexpr std::array<const char*, 5> kTriggerKinds = {"http", "storage", "queue", "table",
                                                      "schedule"};

// Integer fields share one table so parse_spec and spec_from_json check the same bounds.
struct IntField {
  const char* key;
  int FunctionSpec::*member;
  int64_t lo;
  int64_t hi;
  const char* unit;
};
constexpr std::array<IntField, 7> kIntFields = {{
    {"gpu", &FunctionSpec::gpu, 0, 16, ""},
    {"memory", &FunctionSpec::memory_mb, 128, 10240, " MB"},
    {"ephemeral_storage", &FunctionSpec::ephemeral_storage_mb, 512, 10240, " MB"},
    {"concurrency", &FunctionSpec::concurrency, 1, 1000, ""},
    {"min_instances", &FunctionSpec::min_instances, 0, 1000, ""},
    {"max_instances", &FunctionSpec::max_instances, 1, 1000, ""},
    {"max_queue", &FunctionSpec::max_queue, 0, 100000, ""},
}};

constexpr milliseconds kMinTimeout{1};
constexpr milliseconds kMaxTimeout{15 * 60'000};
// Bounded so that adding it to a clock's time point cannot overflow.
constexpr milliseconds kMaxIdleTimeout{24 * 3'600'000};

Error invalid(std::string_view field, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", field, why));
}

std::string format_ms(milliseconds d) {
  int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Result<void> check_range(const IntField& f, int64_t v) {
  if (v >= f.lo && v <= f.hi) return {};
  return invalid(f.key, fmt::format("must be {}..{}{}, got {}", f.lo, f.hi, f.unit, v));
}

Result<void> check_duration(std::string_view field, milliseconds v, milliseconds lo,
                            milliseconds hi) {
  if (v >= lo && v <= hi) return {};
  return invalid(field,
                 fmt::format("must be {}..{}, got {}", format_ms(lo), format_ms(hi), format_ms(v)));
}

bool is_ident(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_name(std::string_view s) {
  if (s.empty() || s.size() > 63 || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// "pkg.mod.handle": at least a module and a function, every part a Python identifier.
bool is_python_handler(std::string_view s) {
  size_t parts = 0;
  while (true) {
    size_t dot = s.find('.');
    if (!is_ident(s.substr(0, dot))) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return parts >= 2;
}

Result<int64_t> read_int(const YAML::Node& n, std::string_view field) {
  std::string text = n.IsScalar() ? n.Scalar() : std::string();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return invalid(field, fmt::format("must be an integer, got '{}'", text));
  }
  return v;
}

Result<milliseconds> read_duration(const YAML::Node& n, std::string_view field) {
  std::string text = n.IsScalar() ? n.Scalar() : std::string();
  // parse_duration converts through a double: keep huge or non-finite values away from it.
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && !(number <= 1e9)) {
    return invalid(field, fmt::format("'{}' is too large", text));
  }
  auto d = parse_duration(text);
  if (!d) return invalid(field, d.error().message);
  return *d;
}

Result<std::string> read_string(const YAML::Node& n, std::string_view field) {
  if (!n.IsScalar() || n.Scalar().empty()) return invalid(field, "must be a non-empty string");
  return n.Scalar();
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& n) {
  if (n.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& kv : n) out[kv.first.Scalar()] = yaml_to_json(kv.second);
    return out;
  }
  if (n.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : n) out.push_back(yaml_to_json(item));
    return out;
  }
  if (!n.IsScalar()) return nullptr;
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;
  if (s == "true" || s == "false") return s == "true";
  if (s == "~" || s == "null") return nullptr;
  int64_t i = 0;
  auto [iend, iec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (!s.empty() && iec == std::errc() && iend == s.data() + s.size()) return i;
  double d = 0;
  auto [dend, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (!s.empty() && dec == std::errc() && dend == s.data() + s.size()) return d;
  return s;
}

namespace {

Result<nlohmann::json> read_triggers(const YAML::Node& n) {
  if (!n.IsSequence()) return invalid("triggers", "must be a list, e.g. - http: {path: /x}");
  nlohmann::json out = nlohmann::json::array();
  size_t i = 0;
  for (const auto& item : n) {
    std::string field = fmt::format("triggers[{}]", i++);
    if (!item.IsMap() || item.size() != 1) {
      return invalid(field,
                     "must be a map with exactly one of http, storage, queue, table, "
                     "schedule");
    }
    std::string kind = item.begin()->first.Scalar();
    bool known = false;
    for (const char* k : kTriggerKinds) known = known || kind == k;
    if (!known) {
      return invalid(field, fmt::format("unknown trigger '{}'; use one of http, storage, "
                                        "queue, table, schedule",
                                        kind));
    }
    if (!item.begin()->second.IsMap())
      return invalid(fmt::format("{}.{}", field, kind), "must be a map");
    out.push_back(yaml_to_json(item));
  }
  return out;
}

Result<std::map<std::string, std::string>> read_env(const YAML::Node& n) {
  if (!n.IsMap()) return invalid("env", "must be a map of NAME: value");
  std::map<std::string, std::string> out;
  for (const auto& kv : n) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (!is_ident(key)) {
      return invalid("env", fmt::format("'{}' is not a valid variable name (letters, digits "
                                        "and '_', not starting with a digit)",
                                        key));
    }
    if (!kv.second.IsScalar()) {
      return invalid("env." + key, "must be a plain value (write \"\" for an empty one)");
    }
    out[key] = kv.second.Scalar();
  }
  return out;
}

Result<Runtime> read_runtime(const YAML::Node& n) {
  auto s = read_string(n, "runtime");
  if (!s) return s.error();
  if (*s == "python3") return Runtime::kPython3;
  if (*s == "exec") return Runtime::kExec;
  if (*s == "model") return Runtime::kModel;
  if (*s == "node" || *s == "provided") {
    return invalid("runtime",
                   fmt::format("'{}' is not supported yet; use python3, exec or model", *s));
  }
  return invalid("runtime", fmt::format("'{}' is not one of python3, exec, model", *s));
}

Result<void> check_keys(const YAML::Node& root) {
  for (const auto& kv : root) {
    std::string key = kv.first.Scalar();
    bool known = false;
    for (const char* k : kKnownKeys) known = known || key == k;
    if (!known) {
      return invalid(key,
                     "unknown field; known fields are name, runtime, handler, memory, "
                     "timeout, concurrency, min_instances, max_instances, idle_timeout, "
                     "max_queue, env, triggers, async, zygote, gpu, batch, ephemeral_storage, "
                     "network, permissions, auth, cors");
    }
  }
  for (const char* required : {"name", "runtime", "handler"}) {
    if (!root[required]) return invalid(required, "required");
  }
  return {};
}

// batch: {max_size: 8, max_delay: 5ms}
Result<void> read_batch(const YAML::Node& n, FunctionSpec& spec) {
  if (!n.IsMap()) return invalid("batch", "must be a map, e.g. {max_size: 8, max_delay: 5ms}");
  for (const auto& kv : n) {
    std::string key = kv.first.Scalar();
    if (key == "max_size") {
      auto v = read_int(kv.second, "batch.max_size");
      if (!v) return v.error();
      if (*v < 1 || *v > 1024) return invalid("batch.max_size", fmt::format("must be 1..1024, got {}", *v));
      spec.batch_max_size = static_cast<int>(*v);
    } else if (key == "max_delay") {
      auto d = read_duration(kv.second, "batch.max_delay");
      if (!d) return d.error();
      if (*d > milliseconds(10'000)) return invalid("batch.max_delay", "must be at most 10s");
      spec.batch_max_delay = *d;
    } else {
      return invalid("batch." + key, "unknown field; use max_size, max_delay");
    }
  }
  return {};
}

// Reads every field present into `spec`; bounds are checked afterwards by validate_spec.
Result<void> read_fields(const YAML::Node& root, FunctionSpec& spec) {
  auto name = read_string(root["name"], "name");
  if (!name) return name.error();
  spec.name = *name;
  auto runtime = read_runtime(root["runtime"]);
  if (!runtime) return runtime.error();
  spec.runtime = *runtime;
  auto handler = read_string(root["handler"], "handler");
  if (!handler) return handler.error();
  spec.handler = *handler;
  for (const IntField& f : kIntFields) {
    if (!root[f.key]) continue;
    auto v = read_int(root[f.key], f.key);
    if (!v) return v.error();
    if (auto r = check_range(f, *v); !r) return r.error();
    spec.*f.member = static_cast<int>(*v);
  }
  for (auto [key, member] : {std::pair{"timeout", &FunctionSpec::timeout},
                             std::pair{"idle_timeout", &FunctionSpec::idle_timeout}}) {
    if (!root[key]) continue;
    auto d = read_duration(root[key], key);
    if (!d) return d.error();
    spec.*member = *d;
  }
  if (root["env"]) {
    auto env = read_env(root["env"]);
    if (!env) return env.error();
    spec.env = std::move(*env);
  }
  if (root["triggers"]) {
    auto triggers = read_triggers(root["triggers"]);
    if (!triggers) return triggers.error();
    spec.triggers = std::move(*triggers);
  }
  if (root["network"]) {
    const YAML::Node& n = root["network"];
    if (!n.IsScalar() || (n.Scalar() != "true" && n.Scalar() != "false")) {
      return invalid("network", "must be true or false");
    }
    spec.network = n.Scalar() == "true";
  }
  if (root["zygote"]) {
    const YAML::Node& z = root["zygote"];
    if (!z.IsScalar() || (z.Scalar() != "true" && z.Scalar() != "false")) {
      return invalid("zygote", "must be true or false");
    }
    spec.zygote = z.Scalar() == "true";
  }
  if (root["batch"]) {
    if (auto r = read_batch(root["batch"], spec); !r) return r;
  }
  if (root["async"]) {
    if (!root["async"].IsMap()) return invalid("async", "must be a map, e.g. {retries: 2}");
    spec.async = yaml_to_json(root["async"]);
  }
  return read_access_yaml(root, spec.access);
}

// kumo.yaml's name is the tenant's local name; a stored spec's is the internal one, which
// may carry its tenant (TENANT~NAME, common/tenant_name.h).
Result<void> check_name(const std::string& name, bool internal) {
  bool ok = internal ? is_internal_name(name, is_valid_name) : is_valid_name(name);
  if (ok) return {};
  return invalid("name", fmt::format("'{}' must be 1..63 characters of a-z, 0-9 and '-', "
                                     "starting with a letter",
                                     name));
}

Result<void> validate_spec(const FunctionSpec& spec) {
  if (auto r = check_name(spec.name, true); !r) return r;
  if (spec.runtime == Runtime::kPython3 && !is_python_handler(spec.handler)) {
    return invalid("handler", fmt::format("'{}' must be module.function for python3 (e.g. "
                                          "main.handle)",
                                          spec.handler));
  }
  if (spec.handler.find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid("handler", "must be a non-empty command");
  }
  for (const IntField& f : kIntFields) {
    if (auto r = check_range(f, spec.*f.member); !r) return r.error();
  }
  if (spec.min_instances > spec.max_instances) {
    return invalid("min_instances", fmt::format("must be <= max_instances ({}), got {}",
                                                spec.max_instances, spec.min_instances));
  }
  if (auto r = check_duration("timeout", spec.timeout, kMinTimeout, kMaxTimeout); !r) return r;
  if (auto r = check_duration("idle_timeout", spec.idle_timeout, milliseconds(0), kMaxIdleTimeout);
      !r) {
    return r;
  }
  for (const auto& [key, value] : spec.env) {
    if (!is_ident(key)) return invalid("env", fmt::format("'{}' is not a valid name", key));
  }
  if (!spec.triggers.is_array()) return invalid("triggers", "must be a list");
  return {};
}

}  // namespace

const char* runtime_name(Runtime r) {
  switch (r) {
    case Runtime::kPython3:
      return "python3";
    case Runtime::kExec:
      return "exec";
    case Runtime::kModel:
      return "model";
  }
  return "unknown";
}

Result<FunctionSpec> parse_spec(std::string_view yaml_text) {
  try {
    auto loaded = load_bounded_yaml(yaml_text);
    if (!loaded) return invalid("kumo.yaml", loaded.error().message);
    const YAML::Node& root = *loaded;
    if (root.IsNull() || !root.IsDefined()) {
      return invalid("kumo.yaml", "is empty; it needs at least name, runtime and handler");
    }
    if (!root.IsMap()) {
      return invalid("kumo.yaml", "must be a map of fields such as name, runtime and handler");
    }
    if (auto r = check_keys(root); !r) return r.error();
    FunctionSpec spec;
    if (auto r = read_fields(root, spec); !r) return r.error();
    if (auto r = check_name(spec.name, false); !r) return r.error();
    if (auto r = validate_spec(spec); !r) return r.error();
    return spec;
  } catch (const YAML::Exception& e) {
    return invalid("kumo.yaml", fmt::format("invalid YAML at line {}, column {}: {}",
                                            e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

nlohmann::json spec_to_json(const FunctionSpec& spec) {
  nlohmann::json j{
      {"name", spec.name},
      {"runtime", runtime_name(spec.runtime)},
      {"handler", spec.handler},
      {"memory_mb", spec.memory_mb},
      {"ephemeral_storage_mb", spec.ephemeral_storage_mb},
      {"timeout_ms", spec.timeout.count()},
      {"concurrency", spec.concurrency},
      {"min_instances", spec.min_instances},
      {"max_instances", spec.max_instances},
      {"idle_timeout_ms", spec.idle_timeout.count()},
      {"max_queue", spec.max_queue},
      {"env", spec.env},
      {"triggers", spec.triggers},
      {"async", spec.async},
      {"zygote", spec.zygote},
      {"network", spec.network},
      {"gpu", spec.gpu},
      {"batch", {{"max_size", spec.batch_max_size},
                 {"max_delay_ms", spec.batch_max_delay.count()}}},
  };
  write_access_json(spec.access, j);
  return j;
}

Result<FunctionSpec> spec_from_json(const nlohmann::json& j) {
  try {
    FunctionSpec spec;
    spec.name = j.at("name").get<std::string>();
    std::string runtime = j.at("runtime").get<std::string>();
    if (runtime == "python3") {
      spec.runtime = Runtime::kPython3;
    } else if (runtime == "exec") {
      spec.runtime = Runtime::kExec;
    } else if (runtime == "model") {
      spec.runtime = Runtime::kModel;
    } else {
      return invalid("runtime", fmt::format("'{}' is not one of python3, exec, model", runtime));
    }
    spec.handler = j.at("handler").get<std::string>();
    spec.memory_mb = j.value("memory_mb", spec.memory_mb);
    spec.ephemeral_storage_mb = j.value("ephemeral_storage_mb", spec.ephemeral_storage_mb);
    spec.timeout = milliseconds(j.value("timeout_ms", spec.timeout.count()));
    spec.concurrency = j.value("concurrency", spec.concurrency);
    spec.min_instances = j.value("min_instances", spec.min_instances);
    spec.max_instances = j.value("max_instances", spec.max_instances);
    spec.idle_timeout = milliseconds(j.value("idle_timeout_ms", spec.idle_timeout.count()));
    spec.max_queue = j.value("max_queue", spec.max_queue);
    spec.env = j.value("env", spec.env);
    spec.triggers = j.value("triggers", nlohmann::json::array());
    spec.async = j.value("async", nlohmann::json::object());
    spec.zygote = j.value("zygote", spec.zygote);
    spec.network = j.value("network", spec.network);
    spec.gpu = j.value("gpu", spec.gpu);
    if (auto b = j.find("batch"); b != j.end() && b->is_object()) {
      spec.batch_max_size = b->value("max_size", spec.batch_max_size);
      spec.batch_max_delay = milliseconds(b->value("max_delay_ms", int64_t{0}));
    }
    if (auto r = read_access_json(j, spec.access); !r) return r.error();
    if (auto r = validate_spec(spec); !r) return r.error();
    return spec;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("spec JSON: {}", e.what()));
  }
}

}  // namespace kumo::registry
