#include "tables/tables.h"

#include <fmt/format.h>

#include "tables/names.h"

namespace kumo::tables {

Result<std::unique_ptr<Tables>> Tables::open(const TablesOptions& options,
                                             events::EventSink& sink) {
  auto config = parse_config(options.config);
  if (!config) return config.error();
  auto store = ItemStore::open(options.db_path);
  if (!store) return store.error();
  for (const PostgresSource& source : config->postgres) {
    auto embedded = (*store)->has_table(source.name);
    if (!embedded) return embedded.error();
    if (*embedded) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("tables.postgres: '{}' is also an embedded table; give the "
                                    "PostgreSQL table another `name` or delete the embedded one",
                                    source.name));
    }
  }
  return std::unique_ptr<Tables>(new Tables(std::move(*store), std::move(*config), sink, options));
}

Tables::Tables(std::unique_ptr<ItemStore> store, TablesConfig config, events::EventSink& sink,
               const TablesOptions& options)
    : store_(std::move(store)), delivery_(*store_, sink, options.delivery) {
  for (PostgresSource& source : config.postgres) {
    watchers_.push_back(std::make_unique<PostgresWatcher>(source, sink, options.watcher));
    postgres_.emplace(source.name, std::move(source));
  }
}

Tables::~Tables() { stop(); }

void Tables::start() {
  delivery_.start();
  for (auto& w : watchers_) w->start();
}

void Tables::stop() {
  for (auto& w : watchers_) w->stop();
  delivery_.stop();
}

bool Tables::table_exists(const std::string& name) const {
  if (postgres_.contains(name)) return true;
  auto embedded = store_->has_table(name);
  return embedded && *embedded;
}

Result<void> Tables::check_embedded(const std::string& name) const {
  if (auto ok = check_table_name(name); !ok) return ok;
  auto it = postgres_.find(name);
  if (it == postgres_.end()) return {};
  return make_error(ErrorCode::kConflict,
                    fmt::format("table '{}' follows PostgreSQL table '{}'; change its rows in "
                                "PostgreSQL, Kumo only delivers their changes",
                                name, it->second.table));
}

Result<bool> Tables::create_table(const std::string& name) {
  if (auto ok = check_embedded(name); !ok) return ok.error();
  return store_->create_table(name);
}

Result<int64_t> Tables::drop_table(const std::string& name) {
  if (auto ok = check_embedded(name); !ok) return ok.error();
  return store_->drop_table(name);
}

Result<nlohmann::json> Tables::list_tables() {
  auto embedded = store_->list_tables();
  if (!embedded) return embedded.error();
  std::map<std::string, nlohmann::json> by_name;
  for (const TableInfo& t : *embedded) {
    by_name[t.name] = {
        {"name", t.name}, {"source", "embedded"}, {"items", t.items}, {"created_us", t.created_us}};
  }
  for (const auto& [name, source] : postgres_) {
    by_name[name] = {{"name", name},
                     {"source", "postgres"},
                     {"postgres_table", source.table},
                     {"key", source.key}};
  }
  nlohmann::json out = nlohmann::json::array();
  for (auto& [name, t] : by_name) out.push_back(std::move(t));
  return out;
}

Result<PutResult> Tables::put(const std::string& table, const std::string& key,
                              const nlohmann::json& item) {
  if (auto ok = check_embedded(table); !ok) return ok.error();
  auto r = store_->put(table, key, item);
  if (r && r->changed) delivery_.notify();
  return r;
}

Result<Item> Tables::get(const std::string& table, const std::string& key) {
  if (auto ok = check_embedded(table); !ok) return ok.error();
  return store_->get(table, key);
}

Result<void> Tables::remove(const std::string& table, const std::string& key) {
  if (auto ok = check_embedded(table); !ok) return ok.error();
  auto r = store_->remove(table, key);
  if (r) delivery_.notify();
  return r;
}

Result<Page> Tables::query(const std::string& table, const std::string& prefix,
                           const std::string& after, int limit) {
  if (auto ok = check_embedded(table); !ok) return ok.error();
  return store_->query(table, prefix, after, limit);
}

}  // namespace kumo::tables
