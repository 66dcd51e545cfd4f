#include "tables/postgres_watcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/check.h"
#include "common/json.h"
#include "tables/attribute_value.h"
#include "tables/postgres_schema.h"

namespace kumo::tables {
namespace {

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

constexpr int kBatch = 200;

Error pg_error(PGconn* conn, std::string_view what) {
  // libpq's messages span lines ("...failed\n\tIs the server running..."): one log line.
  std::string message;
  bool space = false;
  for (char c : std::string_view(PQerrorMessage(conn))) {
    bool blank = c == '\n' || c == '\t' || c == ' ';
    if (!blank && space && !message.empty()) message += ' ';
    if (!blank) message += c;
    space = blank;
  }
  return make_error(ErrorCode::kUnavailable, fmt::format("postgres {}: {}", what, message));
}

}  // namespace

Result<ChangeRecord> record_from_row(const PostgresSource& source, const PgChangeRow& row) {
  ChangeRecord c;
  if (row.op == "INSERT") {
    c.kind = events::TableChange::Kind::kInsert;
  } else if (row.op == "UPDATE") {
    c.kind = events::TableChange::Kind::kModify;
  } else if (row.op == "DELETE") {
    c.kind = events::TableChange::Kind::kRemove;
  } else {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("unknown op '{}'", row.op));
  }
  for (auto [text, image] :
       {std::pair{&row.old_json, &c.old_item}, std::pair{&row.new_json, &c.new_item}}) {
    if (text->empty()) continue;
    auto parsed = parse_json(*text);
    if (!parsed) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("change {}: the row image cannot be read: {}", row.id,
                                    parsed.error().message));
    }
    *image = std::move(*parsed);
  }
  const nlohmann::json& image = c.new_item.is_object() ? c.new_item : c.old_item;
  if (!image.is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("change {} has no readable row image", row.id));
  }
  c.keys = {{source.key, to_attribute_value(image.value(source.key, nlohmann::json()))}};
  c.table = source.name;
  c.sequence = row.id;
  c.at_seconds = row.at_seconds;
  c.event_id = row.event_id;
  return c;
}

// One libpq connection; used by the watcher's thread only.
class PostgresWatcher::Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection() { PQfinish(conn_); }

  PGconn* raw() const { return conn_; }
  int socket() const { return PQsocket(conn_); }
  std::string where() const {
    return fmt::format("{}:{}/{}", PQhost(conn_), PQport(conn_), PQdb(conn_));
  }

  Result<void> exec(const char* sql, std::string_view what) {
    PgResult r(PQexec(conn_, sql), &PQclear);
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return pg_error(conn_, what);
    return {};
  }

  Result<PgResult> query(const char* sql, const std::vector<std::string>& params,
                         std::string_view what) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult r(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                            nullptr, nullptr, 0),
               &PQclear);
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return pg_error(conn_, what);
    return r;
  }

  // Reads what arrived; true when notifications were among it.
  bool drain_notifications() {
    PQconsumeInput(conn_);
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  }

 private:
  PGconn* conn_;
};

PostgresWatcher::PostgresWatcher(PostgresSource source, events::EventSink& sink,
                                 WatcherOptions options)
    : source_(std::move(source)), sink_(sink), options_(options) {
  KUMO_CHECK(pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) == 0);
}

PostgresWatcher::~PostgresWatcher() {
  stop();
  close(wake_fds_[0]);
  close(wake_fds_[1]);
}

void PostgresWatcher::start() {
  if (thread_.joinable()) return;
  char drained[16];
  while (read(wake_fds_[0], drained, sizeof drained) > 0) {
  }
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void PostgresWatcher::stop() {
  stop_ = true;
  (void)!write(wake_fds_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
}

bool PostgresWatcher::wait(Connection* conn, std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{wake_fds_[0], POLLIN, 0}, {conn ? conn->socket() : -1, POLLIN, 0}};
  poll(fds, conn ? 2 : 1, static_cast<int>(timeout.count()));
  return !stop_;
}

// Connects without blocking past stop(): libpq's asynchronous connect, polled with the pipe.
Result<std::unique_ptr<PostgresWatcher::Connection>> PostgresWatcher::connect() {
  // The DSN comes last so that its own settings win over these defaults. Keepalives notice
  // a database host that vanished without closing the connection within about 25 s.
  const char* keys[] = {"connect_timeout",
                        "application_name",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        "dbname",
                        nullptr};
  const char* values[] = {"10", "kumo", "10", "5", "3", source_.dsn.c_str(), nullptr};
  auto conn = std::make_unique<Connection>(PQconnectStartParams(keys, values, 1));
  if (conn->raw() == nullptr) return make_error(ErrorCode::kInternal, "postgres: out of memory");
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED || PQstatus(conn->raw()) == CONNECTION_BAD) {
      return pg_error(conn->raw(), "connect");
    }
    short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    pollfd fds[2] = {{wake_fds_[0], POLLIN, 0}, {conn->socket(), events, 0}};
    if (poll(fds, 2, 10000) == 0)
      return make_error(ErrorCode::kUnavailable, "postgres: connect timed out");
    if (stop_) return make_error(ErrorCode::kUnavailable, "stopping");
    state = PQconnectPoll(conn->raw());
  }
  return conn;
}

// Installs the outbox and the trigger; returns the table's name as the trigger records it.
Result<std::string> PostgresWatcher::install(Connection& conn) {
  if (auto r = conn.exec("BEGIN", "begin"); !r) return r.error();
  auto done = [&]() -> Result<std::string> {
    if (auto r = conn.exec(pg_sql::kInstall, "installing kumo_changes"); !r) return r.error();
    auto table = conn.query(pg_sql::kResolveTable, {source_.table}, "looking up the table");
    if (!table) return table.error();
    if (PQntuples(table->get()) == 0) {
      return make_error(ErrorCode::kNotFound, fmt::format("table '{}' does not exist in {}",
                                                          source_.table, conn.where()));
    }
    std::string quoted = PQgetvalue(table->get(), 0, 0);
    std::string recorded = PQgetvalue(table->get(), 0, 1);
    auto key = conn.query(pg_sql::kKeyColumn, {source_.table, source_.key}, "looking up the key");
    if (!key) return key.error();
    if (PQntuples(key->get()) == 0) {
      return make_error(ErrorCode::kNotFound, fmt::format("table '{}' has no column '{}' (the "
                                                          "configured key)",
                                                          source_.table, source_.key));
    }
    auto has = conn.query(pg_sql::kHasTrigger, {source_.table}, "looking up the trigger");
    if (!has) return has.error();
    if (PQntuples(has->get()) == 0) {
      std::string ddl = std::string(pg_sql::kCreateTriggerOn) + quoted + pg_sql::kCreateTriggerTail;
      if (auto r = conn.exec(ddl.c_str(), "creating the trigger"); !r) return r.error();
    }
    if (auto r = conn.exec("COMMIT", "commit"); !r) return r.error();
    return recorded;
  }();
  if (!done) (void)conn.exec("ROLLBACK", "rollback");
  return done;
}

Result<void> PostgresWatcher::dead_letter(const PgChangeRow& row, const std::string& reason) {
  spdlog::warn("tables: {}: change {} cannot be delivered ({}); it goes to the '{}' topic",
               source_.name, row.id, reason, events::kDeadLetterTopic);
  ChangeRecord c;
  c.table = source_.name;
  c.sequence = row.id;
  c.event_id = row.event_id;
  c.kind = row.op == "DELETE"   ? events::TableChange::Kind::kRemove
           : row.op == "UPDATE" ? events::TableChange::Kind::kModify
                                : events::TableChange::Kind::kInsert;
  auto id = sink_.publish(events::kDeadLetterTopic, undeliverable_change(c, reason));
  if (!id) return id.error();
  return {};
}

PostgresWatcher::Sweep PostgresWatcher::sweep(Connection& conn, const std::string& recorded) {
  for (;;) {
    auto rows = conn.query(pg_sql::kPending, {recorded, std::to_string(kBatch)}, "reading changes");
    if (!rows) return {Sweep::kConnectionLost, rows.error()};
    int n = PQntuples(rows->get());
    for (int i = 0; i < n; ++i) {
      if (stop_) return {Sweep::kDone, {}};
      PGresult* r = rows->get();
      PgChangeRow row{std::stoll(PQgetvalue(r, i, 0)),
                      PQgetvalue(r, i, 1),
                      PQgetvalue(r, i, 2),
                      PQgetvalue(r, i, 3),
                      std::stoll(PQgetvalue(r, i, 4)),
                      PQgetvalue(r, i, 5)};
      auto record = record_from_row(source_, row);
      if (!record) {
        // A row nested deeper than kMaxJsonDepth, say: to the dead letters rather than stall.
        if (auto sent = dead_letter(row, record.error().message); !sent) {
          return {Sweep::kSinkFailed, sent.error()};
        }
      } else if (auto sent = sink_.table_changed(to_table_change(*record)); !sent) {
        return {Sweep::kSinkFailed, sent.error()};
      }
      auto deleted = conn.query(pg_sql::kDelete, {std::to_string(row.id)}, "deleting a change");
      if (!deleted) return {Sweep::kConnectionLost, deleted.error()};
    }
    if (n < kBatch) return {Sweep::kDone, {}};
  }
}

// Delivers changes on one connection until it fails or stop() is called.
void PostgresWatcher::serve(Connection& conn, const std::string& recorded) {
  auto backoff = options_.first_backoff;
  bool sink_failing = false;
  while (!stop_) {
    auto swept = sweep(conn, recorded);
    if (swept.outcome == Sweep::kConnectionLost) {
      spdlog::warn("tables: {}: lost the connection, reconnecting: {}", source_.name,
                   swept.error.message);
      return;
    }
    if (swept.outcome == Sweep::kSinkFailed) {
      if (!sink_failing) {
        spdlog::warn("tables: {}: cannot deliver changes yet, will retry: {}", source_.name,
                     swept.error.message);
      }
      sink_failing = true;
      if (!sleep(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    if (sink_failing) spdlog::info("tables: {}: change delivery resumed", source_.name);
    sink_failing = false;
    backoff = options_.first_backoff;
    if (conn.drain_notifications()) continue;  // arrived while sweeping
    if (!wait(&conn, options_.sweep_interval)) return;
    (void)conn.drain_notifications();
  }
}

void PostgresWatcher::run() {
  auto backoff = options_.first_backoff;
  std::string last_error;
  while (!stop_) {
    auto conn = connect();
    auto recorded = conn ? install(**conn) : Result<std::string>(conn.error());
    if (recorded) {
      std::string listen = fmt::format("LISTEN {}", pg_sql::kChannel);
      if (auto r = (*conn)->exec(listen.c_str(), "listen"); !r) recorded = r.error();
    }
    if (!recorded) {
      if (stop_) return;
      if (recorded.error().message != last_error) {
        spdlog::error("tables: {}: {} (retrying)", source_.name, recorded.error().message);
        last_error = recorded.error().message;
      }
      if (!sleep(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    spdlog::info("tables: watching PostgreSQL table {} at {} as '{}'", *recorded, (*conn)->where(),
                 source_.name);
    backoff = options_.first_backoff;
    last_error.clear();
    serve(**conn, *recorded);
  }
}

}  // namespace kumo::tables
