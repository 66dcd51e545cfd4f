// ItemStore: the embedded tables, kept in SQLite (tables_* tables of the server's database
// file), and the outbox of their changes.
//
// Every write that changes an item also appends a row to the outbox (tables_changes) in the
// same transaction, so a change is never committed without its record, nor recorded without
// being committed. ChangeDelivery reads the outbox in order and acks what the event sink
// accepted; unacked changes survive a restart.
//
// Ownership: owns its Database connection. Thread-safety: every method is thread-safe
// (one mutex around the connection; each call is short).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/sqlite.h"
#include "tables/change_record.h"

namespace kumo::tables {

struct TableInfo {
  std::string name;
  int64_t items = 0;
  int64_t created_us = 0;
};

struct Item {
  std::string key;
  nlohmann::json value;  // a JSON object
  int64_t updated_us = 0;
};

struct Page {
  std::vector<Item> items;          // ordered by key (bytewise)
  std::optional<std::string> next;  // pass as `after` for the next page; none at the end
};

struct PutResult {
  bool created = false;  // there was no item with this key
  bool changed = false;  // false: an identical item was there, so no change was recorded
};

class ItemStore {
 public:
  // Opens (creating) the SQLite file at `path` and the tables_* schema.
  static Result<std::unique_ptr<ItemStore>> open(const std::string& path);

  // True when it was created, false when it already existed.
  Result<bool> create_table(const std::string& name);
  Result<std::vector<TableInfo>> list_tables();
  // Drops the table and its items (no change records). kNotFound when it does not exist.
  Result<int64_t> drop_table(const std::string& name);
  Result<bool> has_table(const std::string& name);

  // The caller has checked the name, key and item (names.h). kNotFound for a missing table.
  Result<PutResult> put(const std::string& table, const std::string& key,
                        const nlohmann::json& item);
  // kInternal for an item that cannot be read back (nested deeper than kMaxJsonDepth by an
  // older release); remove() still deletes it.
  Result<Item> get(const std::string& table, const std::string& key);
  Result<void> remove(const std::string& table, const std::string& key);
  // Items whose key starts with `prefix` and sorts after `after` ("" = from the start).
  // An item that cannot be read back is left out, with a log line.
  Result<Page> query(const std::string& table, const std::string& prefix, const std::string& after,
                     int limit);

  // The oldest unacked changes, oldest first. A change whose stored images cannot be read
  // comes with `unreadable` set and its images null.
  Result<std::vector<ChangeRecord>> pending(int limit);
  // Removes a delivered change from the outbox.
  Result<void> ack(int64_t sequence);

 private:
  explicit ItemStore(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}
  Result<bool> table_exists_locked(const std::string& name);
  Result<std::optional<std::string>> read_item_locked(const std::string& table,
                                                      const std::string& key);
  Result<void> record_change_locked(events::TableChange::Kind kind, const std::string& table,
                                    const std::string& key, const std::string* old_item,
                                    const std::string* new_item, int64_t now_us);
  Result<void> in_transaction(const std::function<Result<void>()>& body);

  std::mutex mu_;
  std::unique_ptr<store::Database> db_;  // Guarded by mu_.
};

}  // namespace kumo::tables
