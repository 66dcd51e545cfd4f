#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "registry/spec.h"
#include "registry/yaml_limits.h"
#include "server/http_limits.h"
#include "server/serve.h"

namespace kumo::server {

namespace {

// The config file is the operator's, but a mistake in it should still end in a message, not in
// a server that swells or overflows its stack while starting.
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

Result<YAML::Node> read_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  std::string text;
  text.resize(kMaxConfigBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  auto root = registry::load_bounded_yaml(text, {kMaxConfigBytes, 100'000, 64});
  if (!root) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: {}", path, root.error().message));
  }
  return root;
}

bool valid_region(const std::string& region) {
  return !region.empty() && region.size() <= 32 &&
         region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

}  // namespace

Result<ServeOptions> load_config(const std::string& path, ServeOptions base) {
  auto loaded = read_config(path);
  if (!loaded) return loaded.error();
  try {
    const YAML::Node& root = *loaded;
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
      } else if (key == "cpu_mb_per_vcpu") {
        base.cpu_mb_per_vcpu = v.as<int>();
      } else if (key == "price_per_gb_second") {
        base.price_per_gb_second = v.as<double>();
      } else if (key == "price_per_million_requests") {
        base.price_per_million_requests = v.as<double>();
      } else if (key == "auth") {
        base.auth = v.as<std::string>();
      } else if (key == "region") {
        base.region = v.as<std::string>();
        if (!valid_region(base.region)) {
          return make_error(ErrorCode::kInvalidArgument,
                            fmt::format("{}: region: 1..32 of a-z, 0-9 and '-', e.g. us-east-1",
                                        path));
        }
      } else if (key == "log_level") {
        base.log_level = v.as<std::string>();
      } else if (key == "http") {
        auto limits = read_http_limits(v, base.http_limits);
        if (!limits) {
          return make_error(ErrorCode::kInvalidArgument,
                            fmt::format("{}: {}", path, limits.error().message));
        }
        base.http_limits = *limits;
      } else if (key == "cluster") {
        auto cluster = parse_cluster_section(registry::yaml_to_json(v));
        if (!cluster) {
          return make_error(ErrorCode::kInvalidArgument,
                            fmt::format("{}: {}", path, cluster.error().message));
        }
        base.cluster = *cluster;
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
