// Tables: Kumo's tables, the event source of `table` triggers. It owns the embedded document
// tables (ItemStore, in SQLite), the delivery of their changes (ChangeDelivery) and one
// PostgresWatcher per PostgreSQL table the config names, and it is the TableCatalog that
// deploys check table triggers against.
//
// Ownership: made once by the server's wiring and kept until shutdown; stop() joins its
// threads. Thread-safety: every method is thread-safe; start()/stop() from the owner.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "events/sink.h"
#include "http/router.h"
#include "tables/config.h"
#include "tables/delivery.h"
#include "tables/item_store.h"
#include "tables/postgres_watcher.h"

namespace kumo::auth {
class Access;
class AuditLog;
}

namespace kumo::tables {

struct TablesOptions {
  std::string db_path;    // SQLite file for the embedded tables
  nlohmann::json config;  // the config file's `tables:` section (null: none)
  DeliveryOptions delivery;
  WatcherOptions watcher;
};

class Tables final : public events::TableCatalog {
 public:
  // kInvalidArgument for a bad config section or a PostgreSQL name that is also an embedded
  // table; kInternal when the database cannot be opened.
  static Result<std::unique_ptr<Tables>> open(const TablesOptions& options,
                                              events::EventSink& sink);
  ~Tables() override;

  // Starts delivering changes (embedded and PostgreSQL).
  void start();
  void stop();

  bool table_exists(const std::string& name) const override;

  // Adds the /api/v1/tables routes (routes.cc).
  // Every route asks `access` first; creating and deleting a table are recorded in `audit`
  // (null: nowhere). Both must outlive the router.
  void add_routes(http::Router& router, const auth::Access& access,
                  auth::AuditLog* audit = nullptr);

  // What the routes do. Writes wake the delivery thread once committed.
  Result<bool> create_table(const std::string& name);
  Result<int64_t> drop_table(const std::string& name);
  Result<nlohmann::json> list_tables();
  Result<PutResult> put(const std::string& table, const std::string& key,
                        const nlohmann::json& item);
  Result<Item> get(const std::string& table, const std::string& key);
  Result<void> remove(const std::string& table, const std::string& key);
  Result<Page> query(const std::string& table, const std::string& prefix, const std::string& after,
                     int limit);

 private:
  Tables(std::unique_ptr<ItemStore> store, TablesConfig config, events::EventSink& sink,
         const TablesOptions& options);
  // kConflict when `name` is a PostgreSQL table: its rows change in PostgreSQL only.
  Result<void> check_embedded(const std::string& name) const;

  std::unique_ptr<ItemStore> store_;
  ChangeDelivery delivery_;
  std::map<std::string, PostgresSource> postgres_;  // by Kumo name; fixed after open
  std::vector<std::unique_ptr<PostgresWatcher>> watchers_;
};

}  // namespace kumo::tables
