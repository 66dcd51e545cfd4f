// `kumo describe`: a function's reply as "key: value" lines and its versions table.
#include <fmt/format.h>

#include "cli/render.h"
#include "cli/render_util.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

// Lines of "key:" padded to one column, then the value; a value may span several lines.
class KeyValues {
 public:
  void add(std::string key, std::string value) {
    if (!value.empty()) rows_.emplace_back(std::move(key), std::move(value));
  }
  std::string render(const Style& style) const {
    size_t width = 0;
    for (const auto& [key, value] : rows_) width = std::max(width, key.size() + 1);
    std::string out;
    for (const auto& [key, value] : rows_) {
      std::string label = key + ":" + std::string(width - key.size() - 1, ' ');
      std::string indent(width + 2, ' ');
      std::string body = value;
      for (size_t at = body.find('\n'); at != std::string::npos; at = body.find('\n', at + 1)) {
        body.insert(at + 1, indent);
      }
      out += style.bold(label) + "  " + body + "\n";
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> rows_;
};

std::string env_text(const json& env) {
  std::vector<std::string> pairs;
  if (env.is_object()) {
    for (const auto& [key, value] : env.items()) {
      pairs.push_back(key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
    }
  }
  return fmt::format("{}", fmt::join(pairs, "\n"));
}

// Each trigger is {"kind": {...settings}}: "schedule {"cron":"*/5 * * * *"}".
std::string triggers_text(const json& triggers) {
  std::vector<std::string> lines;
  if (triggers.is_array()) {
    for (const json& t : triggers) {
      if (t.is_object() && t.size() == 1) {
        lines.push_back(t.begin().key() + " " + t.begin().value().dump());
      } else {
        lines.push_back(t.dump());
      }
    }
  }
  return fmt::format("{}", fmt::join(lines, "\n"));
}

std::string duration_field(const json& spec, const char* key) {
  return spec.contains(key) ? format_spec_duration(int_field(spec, key)) : "";
}

void add_spec(KeyValues& kv, const json& spec) {
  kv.add("runtime", str_field(spec, "runtime"));
  kv.add("handler", str_field(spec, "handler"));
  if (spec.contains("memory_mb")) kv.add("memory", format_memory_mb(int_field(spec, "memory_mb")));
  kv.add("timeout", duration_field(spec, "timeout_ms"));
  kv.add("concurrency", str_field(spec, "concurrency"));
  if (spec.contains("min_instances") || spec.contains("max_instances")) {
    kv.add(
        "scaling",
        fmt::format("min {}, max {} instances, idle timeout {}", int_field(spec, "min_instances"),
                    int_field(spec, "max_instances"), duration_field(spec, "idle_timeout_ms")));
  }
  kv.add("max queue", str_field(spec, "max_queue"));
  kv.add("env", env_text(spec.value("env", json::object())));
  kv.add("triggers", triggers_text(spec.value("triggers", json::array())));
}

std::string versions_table(const json& versions, int64_t now_us, const Style& style) {
  Table table({"VERSION", "SHA256", "DEPLOYED"}, {Align::kRight, Align::kLeft, Align::kLeft});
  for (const json& v : versions) {
    int64_t created = int_field(v, "created_at_us");
    table.add_row({std::to_string(int_field(v, "version")), str_field(v, "sha256").substr(0, 12),
                   format_utc(created) + " (" + format_relative(created, now_us) + ")"});
  }
  return table.render(style);
}

}  // namespace

Result<std::string> render_function(const json& reply, int64_t now_us, const Style& style) {
  return guarded("function", [&]() -> std::string {
    KeyValues kv;
    kv.add("name", reply.at("name").get<std::string>());
    if (reply.contains("version")) kv.add("version", std::to_string(int_field(reply, "version")));
    kv.add("sha256", str_field(reply, "sha256"));
    if (reply.contains("created_at_us")) {
      int64_t created = int_field(reply, "created_at_us");
      kv.add("deployed", format_utc(created) + " (" + format_relative(created, now_us) + ")");
    }
    add_spec(kv, reply.value("spec", json::object()));
    auto instances = render_instances(reply.value("instances", json::object()));
    kv.add("instances", instances.value_or("?"));
    std::string out = kv.render(style);
    json versions = reply.value("versions", json::array());
    if (!versions.empty()) out += "\n" + versions_table(versions, now_us, style);
    return out;
  });
}

}  // namespace kumo::cli
