#include "tables/config.h"

#include <fmt/format.h>

#include <set>

#include "tables/names.h"

namespace kumo::tables {
namespace {

Error bad(const std::string& where, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", where, what));
}

Result<std::string> text_field(const nlohmann::json& entry, const std::string& where,
                               const char* field, bool required) {
  auto it = entry.find(field);
  if (it == entry.end() || it->is_null()) {
    if (required) return bad(fmt::format("{}.{}", where, field), "required");
    return std::string();
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    return bad(fmt::format("{}.{}", where, field), "must be a non-empty string");
  }
  return it->get<std::string>();
}

Result<PostgresSource> parse_source(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) return bad(where, "expected a map with dsn, table, key and name");
  for (const auto& [field, value] : entry.items()) {
    if (field != "dsn" && field != "table" && field != "key" && field != "name") {
      return bad(where, fmt::format("unknown key '{}' (expected dsn, table, key, name)", field));
    }
  }
  PostgresSource s;
  for (auto [field, out, required] :
       {std::tuple{"dsn", &s.dsn, true}, std::tuple{"table", &s.table, true},
        std::tuple{"key", &s.key, true}, std::tuple{"name", &s.name, false}}) {
    auto value = text_field(entry, where, field, required);
    if (!value) return value.error();
    *out = std::move(*value);
  }
  if (s.name.empty()) s.name = s.table.substr(s.table.rfind('.') + 1);
  if (auto ok = check_table_name(s.name); !ok) {
    return bad(where + ".name", ok.error().message + " (set `name` to a valid Kumo table name)");
  }
  return s;
}

}  // namespace

Result<TablesConfig> parse_config(const nlohmann::json& section) {
  TablesConfig config;
  if (section.is_null()) return config;
  if (!section.is_object()) return bad("tables", "expected a map");
  for (const auto& [field, value] : section.items()) {
    if (field != "postgres") return bad("tables", fmt::format("unknown key '{}'", field));
  }
  const nlohmann::json& list = section.value("postgres", nlohmann::json());
  if (list.is_null()) return config;
  if (!list.is_array()) return bad("tables.postgres", "expected a list");
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = fmt::format("tables.postgres[{}]", i);
    auto source = parse_source(list[i], where);
    if (!source) return source.error();
    if (!names.insert(source->name).second) {
      return bad(where + ".name", fmt::format("'{}' is used twice", source->name));
    }
    config.postgres.push_back(std::move(*source));
  }
  return config;
}

}  // namespace kumo::tables
