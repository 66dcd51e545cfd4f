// A thin RAII adapter over SQLite: one Database per file, prepared Statements with typed
// binds and columns. SQLite errors become Result errors here; nothing throws.
//
// Threading: a Database opens its connection in serialized mode (SQLITE_OPEN_FULLMUTEX), so
// it may be shared between threads, but a Statement belongs to one thread at a time, and a
// multi-statement transaction needs the caller's own lock.
#pragma once

#include <sqlite3.h>

#include <cstdint>
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

class Database {
 public:
  // Opens (creating) the file, with WAL journaling and a busy timeout.
  static Result<std::unique_ptr<Database>> open(const std::string& path);
  ~Database();

  // Runs one or more statements that return no rows (schema, BEGIN/COMMIT).
  Result<void> exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  int64_t last_insert_rowid() const;
  int64_t changes() const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace kumo::store
