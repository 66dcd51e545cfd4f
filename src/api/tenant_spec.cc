#include "api/tenant_spec.h"

#include <fmt/format.h>

#include <functional>

namespace kumo::api {
namespace {

using nlohmann::json;

// Where a spec names Kumo things, as (trigger kind, field) pairs inside `triggers`.
constexpr std::pair<const char*, const char*> kTriggerNames[] = {
    {"queue", "topic"}, {"storage", "bucket"}, {"table", "name"}};
constexpr const char* kAsyncNames[] = {"dead_letter", "on_failure"};

using Rename = std::function<Result<std::string>(const std::string& field, const std::string&)>;

// Applies `rename` to every string naming a Kumo thing in the triggers and async JSON.
// Values of other types are left for the trigger parser to refuse.
Result<void> rename_names(json& triggers, json& async, const Rename& rename) {
  auto apply = [&rename](json& holder, const char* key, const std::string& field) -> Result<void> {
    if (!holder.is_object()) return {};
    auto it = holder.find(key);
    if (it == holder.end() || !it->is_string()) return {};
    auto renamed = rename(field, it->get<std::string>());
    if (!renamed) return renamed.error();
    *it = *renamed;
    return {};
  };
  for (size_t i = 0; triggers.is_array() && i < triggers.size(); ++i) {
    for (const auto& [kind, key] : kTriggerNames) {
      if (!triggers[i].is_object() || !triggers[i].contains(kind)) continue;
      std::string field = fmt::format("triggers[{}].{}.{}", i, kind, key);
      if (auto r = apply(triggers[i][kind], key, field); !r) return r;
    }
  }
  for (const char* key : kAsyncNames) {
    if (auto r = apply(async, key, fmt::format("async.{}", key)); !r) return r;
  }
  return {};
}

Result<std::string> qualified(const auth::Caller& caller, const std::string& field,
                              const std::string& name) {
  if (caller.is_operator() || name.empty()) return name;
  if (name.find(auth::kTenantSeparator) != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: '{}' may not contain '{}': a spec names its own tenant's "
                                  "things by their plain names",
                                  field, name.substr(0, 128), auth::kTenantSeparator));
  }
  return auth::qualify(caller, name);
}

}  // namespace

Result<void> qualify_spec(const auth::Caller& caller, registry::FunctionSpec& spec) {
  auto name = qualified(caller, "name", spec.name);
  if (!name) return name.error();
  auto rename = [&caller](const std::string& field, const std::string& value) {
    return qualified(caller, field, value);
  };
  if (auto r = rename_names(spec.triggers, spec.async, rename); !r) return r;
  spec.name = *name;
  return {};
}

json visible_spec_json(const auth::Caller& caller, const registry::FunctionSpec& spec) {
  json j = registry::spec_to_json(spec);
  if (caller.is_operator()) return j;
  auto local = [](const std::string&, const std::string& value) -> Result<std::string> {
    return std::string(auth::local_name(value));
  };
  j["name"] = std::string(auth::local_name(spec.name));
  // A spec of the caller's tenant names only its tenant's things: this cannot fail.
  (void)rename_names(j["triggers"], j["async"], local);
  return j;
}

}  // namespace kumo::api
