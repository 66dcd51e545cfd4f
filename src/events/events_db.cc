#include "events/events_db.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ids.h"

namespace kumo::events {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS events_invocations (
  request_id TEXT PRIMARY KEY,
  function TEXT NOT NULL,
  payload TEXT NOT NULL,
  source TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  next_run_us INTEGER NOT NULL,
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL,
  result TEXT,
  error_type TEXT,
  error_message TEXT,
  messages TEXT
);
CREATE INDEX IF NOT EXISTS events_invocations_due
  ON events_invocations(function, state, next_run_us);
CREATE INDEX IF NOT EXISTS events_invocations_age ON events_invocations(updated_us);
CREATE TABLE IF NOT EXISTS events_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  topic TEXT NOT NULL,
  body BLOB NOT NULL,
  attributes TEXT NOT NULL,
  created_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_messages_topic ON events_messages(topic, seq);
CREATE TABLE IF NOT EXISTS events_pending (
  function TEXT NOT NULL,
  topic TEXT NOT NULL,
  seq INTEGER NOT NULL,
  created_us INTEGER NOT NULL,
  PRIMARY KEY (function, topic, seq)
);
CREATE TABLE IF NOT EXISTS events_schedules (
  function TEXT NOT NULL,
  key TEXT NOT NULL,
  last_us INTEGER NOT NULL,
  PRIMARY KEY (function, key)
);
)sql";

constexpr std::string_view kColumns =
    "request_id, function, payload, source, state, attempts, max_attempts, next_run_us, "
    "created_us, updated_us, result, error_type, error_message, messages";

InvocationRow read_row(const store::Statement& s) {
  InvocationRow r;
  r.request_id = s.text(0);
  r.function = s.text(1);
  r.payload = s.text(2);
  r.source = s.text(3);
  r.state = s.text(4);
  r.attempts = static_cast<int>(s.int64(5));
  r.max_attempts = static_cast<int>(s.int64(6));
  r.next_run_us = s.int64(7);
  r.created_us = s.int64(8);
  r.updated_us = s.int64(9);
  r.result = s.text(10);
  r.error_type = s.text(11);
  r.error_message = s.text(12);
  r.messages = s.text(13);
  return r;
}

StoredMessage read_message(const store::Statement& s) {
  return StoredMessage{s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5)};
}

constexpr std::string_view kMessageColumns = "seq, id, topic, body, attributes, created_us";

// BEGIN IMMEDIATE ... COMMIT around `body`; rolls back when it fails.
template <typename F>
auto transaction(store::Database& db, F&& body) -> decltype(body()) {
  if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r.error();
  auto out = body();
  if (!out) {
    (void)db.exec("ROLLBACK");
    return out;
  }
  if (auto r = db.exec("COMMIT"); !r) {
    (void)db.exec("ROLLBACK");
    return r.error();
  }
  return out;
}

}  // namespace

InvocationRow new_invocation(const std::string& function, std::string payload, std::string source,
                             int max_attempts, int64_t now_us) {
  InvocationRow row;
  row.request_id = new_request_id();
  row.function = function;
  row.payload = std::move(payload);
  row.source = std::move(source);
  row.max_attempts = max_attempts;
  row.created_us = row.updated_us = row.next_run_us = now_us;
  return row;
}

Result<std::unique_ptr<EventsDb>> EventsDb::open(const std::string& path) {
  auto db = store::Database::open(path);
  if (!db) return db.error();
  if (auto r = (*db)->exec(kSchema); !r) return r.error();
  return std::unique_ptr<EventsDb>(new EventsDb(std::move(*db)));
}

Result<int> EventsDb::recover() {
  std::lock_guard lock(mu_);
  // The attempt that was running did not finish, so it does not count.
  auto r = db_->exec(
      "UPDATE events_invocations SET state = 'queued', attempts = MAX(attempts - 1, 0) "
      "WHERE state = 'running'");
  if (!r) return r.error();
  return static_cast<int>(db_->changes());
}

Result<void> EventsDb::insert_locked(const InvocationRow& row) {
  auto st = db_->prepare(fmt::format(
      "INSERT INTO events_invocations ({}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", kColumns));
  if (!st) return st.error();
  st->bind(1, std::string_view(row.request_id))
      .bind(2, std::string_view(row.function))
      .bind(3, std::string_view(row.payload))
      .bind(4, std::string_view(row.source))
      .bind(5, std::string_view(row.state))
      .bind(6, int64_t{row.attempts})
      .bind(7, int64_t{row.max_attempts})
      .bind(8, row.next_run_us)
      .bind(9, row.created_us)
      .bind(10, row.updated_us)
      .bind(11, std::string_view(row.result))
      .bind(12, std::string_view(row.error_type))
      .bind(13, std::string_view(row.error_message))
      .bind(14, std::string_view(row.messages));
  return st->run();
}

Result<void> EventsDb::insert(const std::vector<InvocationRow>& rows) {
  std::lock_guard lock(mu_);
  return transaction(*db_, [&]() -> Result<void> {
    for (const auto& row : rows) {
      if (auto r = insert_locked(row); !r) return r;
    }
    return {};
  });
}

Result<std::vector<InvocationRow>> EventsDb::claim(const std::string& function, int64_t now_us,
                                                   int limit) {
  std::lock_guard lock(mu_);
  return transaction(*db_, [&]() -> Result<std::vector<InvocationRow>> {
    auto sel = db_->prepare(fmt::format(
        "SELECT {} FROM events_invocations WHERE function = ? AND state IN ('queued', "
        "'failed') AND next_run_us <= ? ORDER BY next_run_us LIMIT ?",
        kColumns));
    if (!sel) return sel.error();
    sel->bind(1, std::string_view(function)).bind(2, now_us).bind(3, int64_t{limit});
    std::vector<InvocationRow> rows;
    while (true) {
      auto has = sel->step();
      if (!has) return has.error();
      if (!*has) break;
      rows.push_back(read_row(*sel));
    }
    auto upd = db_->prepare(
        "UPDATE events_invocations SET state = 'running', attempts = attempts + 1, "
        "updated_us = ? WHERE request_id = ?");
    if (!upd) return upd.error();
    for (auto& row : rows) {
      row.state = "running";
      row.attempts += 1;
      upd->reset();
      upd->bind(1, now_us).bind(2, std::string_view(row.request_id));
      if (auto r = upd->run(); !r) return r.error();
    }
    return rows;
  });
}

Result<void> EventsDb::finish(const std::vector<AttemptEnd>& ends, const FollowUps& follow_ups,
                              int64_t now_us) {
  std::lock_guard lock(mu_);
  return transaction(*db_, [&]() -> Result<void> {
    auto upd = db_->prepare(
        "UPDATE events_invocations SET state = ?, attempts = attempts - ?, next_run_us = ?, "
        "updated_us = ?, result = ?, error_type = ?, error_message = ? WHERE request_id = ?");
    if (!upd) return upd.error();
    for (const auto& e : ends) {
      upd->reset();
      upd->bind(1, std::string_view(e.state))
          .bind(2, int64_t{e.refund_attempt ? 1 : 0})
          .bind(3, e.next_run_us)
          .bind(4, now_us)
          .bind(5, std::string_view(e.result))
          .bind(6, std::string_view(e.error_type))
          .bind(7, std::string_view(e.error_message))
          .bind(8, std::string_view(e.request_id));
      if (auto r = upd->run(); !r) return r;
    }
    for (const auto& row : follow_ups.invocations) {
      if (auto r = insert_locked(row); !r) return r;
    }
    for (const auto& m : follow_ups.messages) {
      if (auto r = publish_locked(m.topic, m.message, m.subscribers, now_us); !r) {
        return r.error();
      }
    }
    return {};
  });
}

Result<std::optional<InvocationRow>> EventsDb::get(const std::string& request_id) const {
  std::lock_guard lock(mu_);
  auto sel = db_->prepare(
      fmt::format("SELECT {} FROM events_invocations WHERE request_id = ?", kColumns));
  if (!sel) return sel.error();
  sel->bind(1, std::string_view(request_id));
  auto has = sel->step();
  if (!has) return has.error();
  if (!*has) return std::optional<InvocationRow>();
  return std::optional<InvocationRow>(read_row(*sel));
}

Result<int> EventsDb::bury(const std::string& function, const std::string& why,
                           int64_t now_us) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "UPDATE events_invocations SET state = 'dead', error_type = 'FunctionRemoved', "
      "error_message = ?, updated_us = ? WHERE function = ? AND state IN ('queued', 'failed')");
  if (!st) return st.error();
  st->bind(1, std::string_view(why)).bind(2, now_us).bind(3, std::string_view(function));
  if (auto r = st->run(); !r) return r.error();
  auto del = db_->prepare("DELETE FROM events_pending WHERE function = ?");
  if (!del) return del.error();
  del->bind(1, std::string_view(function));
  int buried = static_cast<int>(db_->changes());
  if (auto r = del->run(); !r) return r.error();
  return buried;
}

Result<std::pair<int64_t, std::string>> EventsDb::publish_locked(
    const std::string& topic, const Message& m, const std::vector<std::string>& subscribers,
    int64_t now) {
  std::string id = new_request_id();
  auto ins = db_->prepare(
      "INSERT INTO events_messages (id, topic, body, attributes, created_us) VALUES (?,?,?,?,?)");
  if (!ins) return ins.error();
  std::string attributes = nlohmann::json(m.attributes).dump();
  ins->bind(1, std::string_view(id))
      .bind(2, std::string_view(topic))
      .bind(3, std::string_view(m.body))
      .bind(4, std::string_view(attributes))
      .bind(5, now);
  if (auto r = ins->run(); !r) return r.error();
  int64_t seq = db_->last_insert_rowid();
  auto pend = db_->prepare(
      "INSERT INTO events_pending (function, topic, seq, created_us) VALUES (?,?,?,?)");
  if (!pend) return pend.error();
  for (const auto& f : subscribers) {
    pend->reset();
    pend->bind(1, std::string_view(f)).bind(2, std::string_view(topic)).bind(3, seq).bind(4, now);
    if (auto r = pend->run(); !r) return r.error();
  }
  return std::pair{seq, id};
}

Result<std::pair<int64_t, std::string>> EventsDb::publish(
    const std::string& topic, const Message& m, const std::vector<std::string>& subscribers,
    int64_t now_us) {
  std::lock_guard lock(mu_);
  return transaction(*db_, [&] { return publish_locked(topic, m, subscribers, now_us); });
}

Result<std::optional<int64_t>> EventsDb::next_run(const std::string& function) const {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT MIN(next_run_us) FROM events_invocations "
      "WHERE function = ? AND state IN ('queued', 'failed')");
  if (!st) return st.error();
  st->bind(1, std::string_view(function));
  auto has = st->step();
  if (!has) return has.error();
  if (!*has || st->is_null(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(st->int64(0));
}

Result<EventsDb::PendingInfo> EventsDb::pending(const std::string& function,
                                                const std::string& topic) const {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT COUNT(*), COALESCE(MIN(created_us), 0) FROM events_pending "
      "WHERE function = ? AND topic = ?");
  if (!st) return st.error();
  st->bind(1, std::string_view(function)).bind(2, std::string_view(topic));
  auto has = st->step();
  if (!has) return has.error();
  return PendingInfo{static_cast<int>(st->int64(0)), st->int64(1)};
}

Result<int> EventsDb::take_batches(const std::string& function, const std::string& topic,
                                   int batch_size, int batches, const BatchMaker& make) {
  const int limit = batch_size * batches;
  std::lock_guard lock(mu_);
  return transaction(*db_, [&]() -> Result<int> {
    auto sel = db_->prepare(fmt::format(
        "SELECT m.seq, m.id, m.topic, m.body, m.attributes, m.created_us FROM events_pending p "
        "JOIN events_messages m ON m.seq = p.seq WHERE p.function = ? AND p.topic = ? "
        "ORDER BY p.seq LIMIT ?"));
    if (!sel) return sel.error();
    sel->bind(1, std::string_view(function)).bind(2, std::string_view(topic)).bind(3,
                                                                                  int64_t{limit});
    std::vector<StoredMessage> batch;
    while (true) {
      auto has = sel->step();
      if (!has) return has.error();
      if (!*has) break;
      batch.push_back(read_message(*sel));
    }
    if (batch.empty()) return 0;
    auto del = db_->prepare("DELETE FROM events_pending WHERE function = ? AND topic = ? AND seq = ?");
    if (!del) return del.error();
    for (const auto& m : batch) {
      del->reset();
      del->bind(1, std::string_view(function)).bind(2, std::string_view(topic)).bind(3, m.seq);
      if (auto r = del->run(); !r) return r.error();
    }
    for (size_t i = 0; i < batch.size(); i += static_cast<size_t>(batch_size)) {
      size_t end = std::min(batch.size(), i + static_cast<size_t>(batch_size));
      std::vector<StoredMessage> part(batch.begin() + static_cast<std::ptrdiff_t>(i),
                                      batch.begin() + static_cast<std::ptrdiff_t>(end));
      if (auto r = insert_locked(make(part)); !r) return r.error();
    }
    return static_cast<int>(batch.size());
  });
}

Result<std::vector<StoredMessage>> EventsDb::messages_by_seq(
    const std::vector<int64_t>& seqs) const {
  std::lock_guard lock(mu_);
  auto sel = db_->prepare(
      fmt::format("SELECT {} FROM events_messages WHERE seq = ?", kMessageColumns));
  if (!sel) return sel.error();
  std::vector<StoredMessage> out;
  for (int64_t seq : seqs) {
    sel->reset();
    sel->bind(1, seq);
    auto has = sel->step();
    if (!has) return has.error();
    if (*has) out.push_back(read_message(*sel));
  }
  return out;
}

Result<std::vector<StoredMessage>> EventsDb::messages(const std::string& topic, int64_t after,
                                                      int limit) const {
  std::lock_guard lock(mu_);
  auto sel = db_->prepare(fmt::format(
      "SELECT {} FROM events_messages WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
      kMessageColumns));
  if (!sel) return sel.error();
  sel->bind(1, std::string_view(topic)).bind(2, after).bind(3, int64_t{limit});
  std::vector<StoredMessage> out;
  while (true) {
    auto has = sel->step();
    if (!has) return has.error();
    if (!*has) break;
    out.push_back(read_message(*sel));
  }
  return out;
}

Result<void> EventsDb::unsubscribe(const std::string& function,
                                   const std::vector<std::string>& keep) {
  std::lock_guard lock(mu_);
  std::string sql = "DELETE FROM events_pending WHERE function = ?";
  if (!keep.empty()) {
    sql += " AND topic NOT IN (";
    for (size_t i = 0; i < keep.size(); ++i) sql += i ? ",?" : "?";
    sql += ")";
  }
  auto st = db_->prepare(sql);
  if (!st) return st.error();
  st->bind(1, std::string_view(function));
  for (size_t i = 0; i < keep.size(); ++i) st->bind(static_cast<int>(i) + 2, std::string_view(keep[i]));
  return st->run();
}

Result<std::optional<int64_t>> EventsDb::schedule_last(const std::string& function,
                                                       const std::string& key) const {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT last_us FROM events_schedules WHERE function = ? AND key = ?");
  if (!st) return st.error();
  st->bind(1, std::string_view(function)).bind(2, std::string_view(key));
  auto has = st->step();
  if (!has) return has.error();
  if (!*has) return std::optional<int64_t>();
  return std::optional<int64_t>(st->int64(0));
}

Result<void> EventsDb::fire_schedule(const std::string& function, const std::string& key,
                                     int64_t tick_us, const InvocationRow& invocation) {
  std::lock_guard lock(mu_);
  return transaction(*db_, [&]() -> Result<void> {
    auto st = db_->prepare(
        "INSERT INTO events_schedules (function, key, last_us) VALUES (?,?,?) "
        "ON CONFLICT (function, key) DO UPDATE SET last_us = excluded.last_us");
    if (!st) return st.error();
    st->bind(1, std::string_view(function)).bind(2, std::string_view(key)).bind(3, tick_us);
    if (auto r = st->run(); !r) return r;
    return insert_locked(invocation);
  });
}

Result<void> EventsDb::set_schedule_last(const std::string& function, const std::string& key,
                                         int64_t tick_us) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "INSERT INTO events_schedules (function, key, last_us) VALUES (?,?,?) "
      "ON CONFLICT (function, key) DO UPDATE SET last_us = excluded.last_us");
  if (!st) return st.error();
  st->bind(1, std::string_view(function)).bind(2, std::string_view(key)).bind(3, tick_us);
  return st->run();
}

Result<void> EventsDb::collect(int64_t before_us) {
  std::lock_guard lock(mu_);
  auto inv = db_->prepare(
      "DELETE FROM events_invocations WHERE state IN ('succeeded', 'dead') AND updated_us < ?");
  if (!inv) return inv.error();
  inv->bind(1, before_us);
  if (auto r = inv->run(); !r) return r;
  // Messages still waiting for a subscriber stay.
  auto msg = db_->prepare(
      "DELETE FROM events_messages WHERE created_us < ? AND seq NOT IN "
      "(SELECT seq FROM events_pending)");
  if (!msg) return msg.error();
  msg->bind(1, before_us);
  return msg->run();
}

}  // namespace kumo::events
