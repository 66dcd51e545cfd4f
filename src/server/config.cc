#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "registry/spec.h"
#include "server/serve.h"

namespace kumo::server {

Result<ServeOptions> load_config(const std::string& path, ServeOptions base) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap() && !root.IsNull()) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: expected a map", path));
    }
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "listen") {
        base.listen = v.as<std::string>();
      } else if (key == "data") {
        base.data_dir = v.as<std::string>();
      } else if (key == "python") {
        base.python = v.as<std::string>();
      } else if (key == "threads") {
        base.threads = v.as<int>();
      } else if (key == "price_per_gb_second") {
        base.price_per_gb_second = v.as<double>();
      } else if (key == "price_per_million_requests") {
        base.price_per_million_requests = v.as<double>();
      } else if (key == "log_level") {
        base.log_level = v.as<std::string>();
      } else if (key == "storage" || key == "tables" || key == "connectors" ||
                 key == "events" || key == "gpus") {
        base.sections[key] = registry::yaml_to_json(v);
      } else {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: unknown key '{}'", path, key));
      }
    }
    return base;
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace kumo::server
