#include "store/sqlite.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

namespace kumo::store {
namespace {

ErrorCode code_of(int rc) {
  return (rc & 0xff) == SQLITE_FULL ? ErrorCode::kUnavailable : ErrorCode::kInternal;
}

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  return make_error(code_of(rc), fmt::format("sqlite {}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

bool is_disk_full(const Error& error) {
  return error.code == ErrorCode::kUnavailable &&
         error.message.ends_with(sqlite3_errstr(SQLITE_FULL));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(stmt_), rc, "step");
}

Result<void> Statement::run() {
  for (;;) {
    auto more = step();
    if (!more) return more.error();
    if (!*more) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::string Statement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, column)) : std::string();
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    Error e = make_error(ErrorCode::kInternal,
                         fmt::format("cannot open database {}: {}", path, sqlite3_errmsg(db)));
    sqlite3_close(db);
    return e;
  }
  sqlite3_busy_timeout(db, 5000);
  bool in_memory = path.empty() || path == ":memory:";
  std::unique_ptr<Database> out(new Database(db, in_memory ? "" : path + "-reserve"));
  auto r = out->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!r) return r.error();
  out->make_reserve();
  return out;
}

bool Database::make_reserve() const {
  if (reserve_path_.empty()) return false;
  if (::access(reserve_path_.c_str(), F_OK) == 0) return true;
  // Connections to one file share its reserve; each writes its own temporary.
  std::string partial = fmt::format("{}.tmp{}", reserve_path_, static_cast<const void*>(this));
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  // Blocks really allocated (a sparse file would free nothing when removed).
  bool made = ::posix_fallocate(fd, 0, kReserveBytes) == 0;
  ::close(fd);
  if (made) made = ::rename(partial.c_str(), reserve_path_.c_str()) == 0;
  if (!made) ::unlink(partial.c_str());
  return made;
}

Result<void> Database::freeing(const std::function<Result<void>()>& change) {
  auto done = change();
  if (done || !is_disk_full(done.error())) {
    if (done) make_reserve();
    return done;
  }
  if (reserve_path_.empty() || ::unlink(reserve_path_.c_str()) != 0) return done;  // no reserve left to give
  return change();
}

Database::~Database() { sqlite3_close(db_); }

Result<void> Database::exec(std::string_view sql) {
  char* msg = nullptr;
  std::string s(sql);
  if (int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &msg); rc != SQLITE_OK) {
    Error e = make_error(code_of(rc), fmt::format("sqlite exec: {}", msg ? msg : "?"));
    sqlite3_free(msg);
    return e;
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare");
  return Statement(stmt);
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int64_t Database::changes() const { return sqlite3_changes64(db_); }

}  // namespace kumo::store
