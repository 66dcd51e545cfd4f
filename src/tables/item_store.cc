#include "tables/item_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/json.h"
#include "tables/names.h"

namespace kumo::tables {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tables_tables (
  name       TEXT PRIMARY KEY,
  created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tables_items (
  tbl        TEXT NOT NULL,
  key        TEXT NOT NULL,
  item       TEXT NOT NULL,
  updated_us INTEGER NOT NULL,
  PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tables_changes (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  tbl      TEXT NOT NULL,
  kind     TEXT NOT NULL,      -- INSERT, MODIFY or REMOVE
  key      TEXT NOT NULL,
  old_item TEXT,
  new_item TEXT,
  at_us    INTEGER NOT NULL,
  event_id TEXT NOT NULL
);
)sql";

Error missing_table(const std::string& name) {
  return make_error(ErrorCode::kNotFound,
                    fmt::format("table '{}' not found; create it with `kumo table create {}` "
                                "(PUT /api/v1/tables/{})",
                                name, name, name));
}

std::string compact_event_id() {
  std::string id = new_request_id();
  std::erase(id, '-');
  return id;
}

events::TableChange::Kind parse_kind(const std::string& name) {
  if (name == "MODIFY") return events::TableChange::Kind::kModify;
  if (name == "REMOVE") return events::TableChange::Kind::kRemove;
  return events::TableChange::Kind::kInsert;
}

// Stored items were checked when written, but an older release did not bound their depth.
Result<nlohmann::json> parse_stored(const std::string& text) { return parse_json(text); }

Error unreadable_item(const std::string& table, const std::string& key, const Error& why) {
  return make_error(ErrorCode::kInternal,
                    fmt::format("table '{}': the stored item '{}' cannot be read: {}; delete it "
                                "and write it again",
                                table, key, why.message));
}

}  // namespace

Result<std::unique_ptr<ItemStore>> ItemStore::open(const std::string& path) {
  auto db = store::Database::open(path);
  if (!db) return db.error();
  if (auto r = (*db)->exec(kSchema); !r) {
    return make_error(r.error().code, "cannot create the tables schema: " + r.error().message);
  }
  return std::unique_ptr<ItemStore>(new ItemStore(std::move(*db)));
}

Result<void> ItemStore::in_transaction(const std::function<Result<void>()>& body) {
  if (auto r = db_->exec("BEGIN IMMEDIATE"); !r) return r;
  auto r = body();
  if (r) r = db_->exec("COMMIT");
  if (!r) (void)db_->exec("ROLLBACK");
  return r;
}

Result<bool> ItemStore::table_exists_locked(const std::string& name) {
  auto st = db_->prepare("SELECT 1 FROM tables_tables WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, std::string_view(name));
  return st->step();
}

Result<bool> ItemStore::create_table(const std::string& name) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("INSERT OR IGNORE INTO tables_tables (name, created_us) VALUES (?1, ?2)");
  if (!st) return st.error();
  st->bind(1, std::string_view(name)).bind(2, wall_micros());
  if (auto r = st->run(); !r) return r.error();
  return db_->changes() > 0;
}

Result<std::vector<TableInfo>> ItemStore::list_tables() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT t.name, t.created_us, (SELECT count(*) FROM tables_items i WHERE i.tbl = t.name) "
      "FROM tables_tables t ORDER BY t.name");
  if (!st) return st.error();
  std::vector<TableInfo> out;
  for (;;) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) return out;
    out.push_back(TableInfo{st->text(0), st->int64(2), st->int64(1)});
  }
}

Result<int64_t> ItemStore::drop_table(const std::string& name) {
  std::lock_guard lock(mu_);
  int64_t items = 0;
  auto r = in_transaction([&]() -> Result<void> {
    auto exists = table_exists_locked(name);
    if (!exists) return exists.error();
    if (!*exists) return missing_table(name);
    auto del_items = db_->prepare("DELETE FROM tables_items WHERE tbl = ?1");
    if (!del_items) return del_items.error();
    del_items->bind(1, std::string_view(name));
    if (auto ran = del_items->run(); !ran) return ran;
    items = db_->changes();
    auto del_table = db_->prepare("DELETE FROM tables_tables WHERE name = ?1");
    if (!del_table) return del_table.error();
    del_table->bind(1, std::string_view(name));
    return del_table->run();
  });
  if (!r) return r.error();
  return items;
}

Result<bool> ItemStore::has_table(const std::string& name) {
  std::lock_guard lock(mu_);
  return table_exists_locked(name);
}

Result<std::optional<std::string>> ItemStore::read_item_locked(const std::string& table,
                                                               const std::string& key) {
  auto st = db_->prepare("SELECT item FROM tables_items WHERE tbl = ?1 AND key = ?2");
  if (!st) return st.error();
  st->bind(1, std::string_view(table)).bind(2, std::string_view(key));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->text(0));
}

Result<void> ItemStore::record_change_locked(events::TableChange::Kind kind,
                                             const std::string& table, const std::string& key,
                                             const std::string* old_item,
                                             const std::string* new_item, int64_t now_us) {
  auto st = db_->prepare(
      "INSERT INTO tables_changes (tbl, kind, key, old_item, new_item, at_us, event_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!st) return st.error();
  st->bind(1, std::string_view(table)).bind(2, std::string_view(event_name(kind)));
  st->bind(3, std::string_view(key));
  if (old_item)
    st->bind(4, std::string_view(*old_item));
  else
    st->bind_null(4);
  if (new_item)
    st->bind(5, std::string_view(*new_item));
  else
    st->bind_null(5);
  st->bind(6, now_us).bind(7, std::string_view(compact_event_id()));
  return st->run();
}

Result<PutResult> ItemStore::put(const std::string& table, const std::string& key,
                                 const nlohmann::json& item) {
  std::lock_guard lock(mu_);
  PutResult result;
  std::string text = item.dump();
  auto r = in_transaction([&]() -> Result<void> {
    auto exists = table_exists_locked(table);
    if (!exists) return exists.error();
    if (!*exists) return missing_table(table);
    auto old = read_item_locked(table, key);
    if (!old) return old.error();
    result.created = !old->has_value();
    result.changed = result.created || **old != text;
    if (!result.changed) return {};  // as DynamoDB: an unchanged item writes no record
    int64_t now = wall_micros();
    auto st = db_->prepare(
        "INSERT OR REPLACE INTO tables_items (tbl, key, item, updated_us) VALUES (?1, ?2, ?3, ?4)");
    if (!st) return st.error();
    st->bind(1, std::string_view(table)).bind(2, std::string_view(key));
    st->bind(3, std::string_view(text)).bind(4, now);
    if (auto ran = st->run(); !ran) return ran;
    auto kind =
        result.created ? events::TableChange::Kind::kInsert : events::TableChange::Kind::kModify;
    return record_change_locked(kind, table, key, old->has_value() ? &**old : nullptr, &text, now);
  });
  if (!r) return r.error();
  return result;
}

Result<Item> ItemStore::get(const std::string& table, const std::string& key) {
  std::lock_guard lock(mu_);
  auto exists = table_exists_locked(table);
  if (!exists) return exists.error();
  if (!*exists) return missing_table(table);
  auto st = db_->prepare("SELECT item, updated_us FROM tables_items WHERE tbl = ?1 AND key = ?2");
  if (!st) return st.error();
  st->bind(1, std::string_view(table)).bind(2, std::string_view(key));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("table '{}' has no item with key '{}'", table, key));
  }
  auto item = parse_stored(st->text(0));
  if (!item) return unreadable_item(table, key, item.error());
  return Item{key, std::move(*item), st->int64(1)};
}

Result<void> ItemStore::remove(const std::string& table, const std::string& key) {
  std::lock_guard lock(mu_);
  auto change = [&]() -> Result<void> {
    auto exists = table_exists_locked(table);
    if (!exists) return exists.error();
    if (!*exists) return missing_table(table);
    auto old = read_item_locked(table, key);
    if (!old) return old.error();
    if (!old->has_value()) {
      return make_error(ErrorCode::kNotFound,
                        fmt::format("table '{}' has no item with key '{}'", table, key));
    }
    auto st = db_->prepare("DELETE FROM tables_items WHERE tbl = ?1 AND key = ?2");
    if (!st) return st.error();
    st->bind(1, std::string_view(table)).bind(2, std::string_view(key));
    if (auto ran = st->run(); !ran) return ran;
    return record_change_locked(events::TableChange::Kind::kRemove, table, key, &**old, nullptr,
                                wall_micros());
  };
  // freeing(): a delete must work on a full disk (store/sqlite.h).
  return db_->freeing([&] { return in_transaction(change); });
}

Result<Page> ItemStore::query(const std::string& table, const std::string& prefix,
                              const std::string& after, int limit) {
  std::lock_guard lock(mu_);
  auto exists = table_exists_locked(table);
  if (!exists) return exists.error();
  if (!*exists) return missing_table(table);
  auto st = db_->prepare(
      "SELECT key, item, updated_us FROM tables_items WHERE tbl = ?1 AND key > ?2 AND key >= ?3 "
      "AND (?4 = '' OR key < ?4) ORDER BY key LIMIT ?5");
  if (!st) return st.error();
  st->bind(1, std::string_view(table)).bind(2, std::string_view(after));
  st->bind(3, std::string_view(prefix)).bind(4, std::string_view(prefix_end(prefix)));
  st->bind(5, static_cast<int64_t>(limit) + 1);  // one more tells whether a next page exists
  Page page;
  for (;;) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) break;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = page.items.back().key;
      break;
    }
    auto item = parse_stored(st->text(1));
    if (!item) {  // listed without it, so the rest of the table stays readable
      spdlog::warn("{}", unreadable_item(table, st->text(0), item.error()).message);
      continue;
    }
    page.items.push_back(Item{st->text(0), std::move(*item), st->int64(2)});
  }
  return page;
}

Result<std::vector<ChangeRecord>> ItemStore::pending(int limit) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT seq, tbl, kind, key, old_item, new_item, at_us, event_id FROM tables_changes "
      "ORDER BY seq LIMIT ?1");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(limit));
  std::vector<ChangeRecord> out;
  for (;;) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) return out;
    ChangeRecord c;
    c.sequence = st->int64(0);
    c.table = st->text(1);
    c.kind = parse_kind(st->text(2));
    c.keys = {{"key", {{"S", st->text(3)}}}};
    for (auto [column, image] : {std::pair{4, &c.old_item}, std::pair{5, &c.new_item}}) {
      if (st->is_null(column)) continue;
      auto parsed = parse_stored(st->text(column));
      if (parsed) {
        *image = std::move(*parsed);
      } else {
        c.unreadable = parsed.error().message;
      }
    }
    c.at_seconds = st->int64(6) / 1'000'000;
    c.event_id = st->text(7);
    out.push_back(std::move(c));
  }
}

Result<void> ItemStore::ack(int64_t sequence) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("DELETE FROM tables_changes WHERE seq = ?1");
  if (!st) return st.error();
  st->bind(1, sequence);
  return st->run();
}

}  // namespace kumo::tables
