// The server config file's `tables:` section:
//
//   tables:
//     postgres:
//       - dsn: "host=127.0.0.1 port=5432 dbname=app user=app"   # libpq connection string
//         table: orders        # the PostgreSQL table (optionally schema.table)
//         key: id              # its key column, shown as the records' Keys
//         name: orders         # the Kumo table name triggers use (default: the table's name)
//
// Pure parsing; thread-safe.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace kumo::tables {

struct PostgresSource {
  std::string dsn;
  std::string table;
  std::string key;
  std::string name;
};

struct TablesConfig {
  std::vector<PostgresSource> postgres;
};

// Parses the section (null = empty). kInvalidArgument naming the field, e.g.
// "tables.postgres[0].dsn: required".
Result<TablesConfig> parse_config(const nlohmann::json& section);

}  // namespace kumo::tables
