// A thin RAII adapter over SQLite: one Database per file, prepared Statements with typed
// binds and columns. SQLite errors become Result errors here; nothing throws.
//
// Threading: a Database opens its connection in serialized mode (SQLITE_OPEN_FULLMUTEX), so
// it may be shared between threads, but a Statement belongs to one thread at a time, and a
// multi-statement transaction needs the caller's own lock.
//
// A full disk: SQLite needs new space even to delete (the WAL grows by the pages a delete
// changes), so on a full disk nothing could be freed through Kumo. Each Database keeps a
// small reserve file next to its own (<file>-reserve, kReserveBytes) that freeing() gives
// up when a delete fails with SQLITE_FULL; a later freeing() makes it again once there is
// room. A full disk is kUnavailable with SQLite's "database or disk is full".
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::store {

class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Binds are 1-based, as in SQLite.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_null(int index);

  // Steps once: true when a row is ready, false when done.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Result<void> run();
  void reset();

  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3_stmt* stmt_;
};

// True for the error of a statement that failed because the disk is full (SQLITE_FULL).
bool is_disk_full(const Error& error);

class Database {
 public:
  static constexpr int64_t kReserveBytes = 256 * 1024;

  // Opens (creating) the file, with WAL journaling and a busy timeout, and makes its
  // reserve file when there is room.
  static Result<std::unique_ptr<Database>> open(const std::string& path);
  ~Database();

  // Runs `change`, statements that free space (a delete, in or out of a transaction, which
  // it rolls back itself on failure). When it fails because the disk is full, the reserve
  // is released and `change` runs once more. Deleting works on a full disk this way.
  Result<void> freeing(const std::function<Result<void>()>& change);

  // Runs one or more statements that return no rows (schema, BEGIN/COMMIT).
  Result<void> exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  int64_t last_insert_rowid() const;
  int64_t changes() const;

 private:
  Database(sqlite3* db, std::string reserve_path)
      : db_(db), reserve_path_(std::move(reserve_path)) {}
  // Makes the reserve file if it is missing; false when there is no room for it.
  bool make_reserve() const;
  sqlite3* db_;
  std::string reserve_path_;  // empty for an in-memory database
};

}  // namespace kumo::store
