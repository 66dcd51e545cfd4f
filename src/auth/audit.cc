#include "auth/audit.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "auth/key_crypto.h"
#include "common/clock.h"

namespace kumo::auth {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  time_us INTEGER NOT NULL,
  key_id  TEXT    NOT NULL,
  tenant  TEXT    NOT NULL,
  action  TEXT    NOT NULL,
  target  TEXT    NOT NULL,
  remote  TEXT    NOT NULL,
  status  INTEGER NOT NULL,
  detail  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log(time_us);
)sql";

// Bounds on each text field, in bytes.
constexpr size_t kMaxKeyId = 64;
constexpr size_t kMaxAction = 64;
constexpr size_t kMaxTarget = 256;
constexpr size_t kMaxRemote = 64;
constexpr size_t kMaxDetail = 512;

// At most `max` bytes of printable ASCII; anything else becomes '?'.
std::string bounded(std::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  for (char c : text.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

constexpr std::string_view kBearer = "Bearer ";

// The key id a request's credential names, unverified: a bearer token's id part, or the
// access key id of an AWS SigV4 signature (header-signed or presigned). "" for none.
std::string claimed_key_id(const http::Request& req) {
  std::string authorization = req.header("Authorization");
  std::string_view a = authorization;
  if (a.starts_with(kBearer)) {
    auto parts = parse_token(a.substr(kBearer.size()));
    return parts ? parts->id : std::string();
  }
  std::string credential;
  if (size_t at = a.find("Credential="); a.starts_with("AWS4-") && at != std::string_view::npos) {
    credential = std::string(a.substr(at + 11));
  } else {
    credential = req.query_param("X-Amz-Credential");
  }
  std::string id = credential.substr(0, credential.find('/'));
  return is_key_id(id) ? id : std::string();
}

}  // namespace

Caller claimed_caller(const Access& access, const http::Request& req) {
  if (auto caller = access.identify(req.header("Authorization"))) return std::move(*caller);
  Caller claimed;
  claimed.key_id = claimed_key_id(req);
  if (!claimed.key_id.empty() && access.keys() != nullptr) {
    if (auto key = access.keys()->get(claimed.key_id)) claimed.tenant = key->tenant;
  }
  return claimed;
}

AuditLog::AuditLog(std::unique_ptr<store::Database> db, Clock now_us, int64_t max_rows)
    : db_(std::move(db)), now_us_(std::move(now_us)), max_rows_(max_rows) {}

Result<std::unique_ptr<AuditLog>> AuditLog::open(std::unique_ptr<store::Database> db, Clock now_us,
                                                 int64_t max_rows) {
  if (auto r = db->exec(kSchema); !r) {
    return make_error(r.error().code, "cannot create the audit table: " + r.error().message);
  }
  if (!now_us) now_us = [] { return wall_micros(); };
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(db), std::move(now_us), max_rows));
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path, Clock now_us,
                                                 int64_t max_rows) {
  auto db = store::Database::open(path);
  if (!db) return db.error();
  return open(std::move(*db), std::move(now_us), max_rows);
}

void AuditLog::record(const Caller& caller, std::string_view action, std::string_view target,
                      std::string_view remote, int status, std::string_view detail) {
  AuditRecord r;
  r.time_us = now_us_();
  r.key_id = bounded(caller.who(), kMaxKeyId);
  r.tenant = bounded(caller.tenant, kMaxKeyId);
  r.action = bounded(action, kMaxAction);
  r.target = bounded(target, kMaxTarget);
  r.remote = bounded(remote, kMaxRemote);
  r.status = status;
  r.detail = bounded(detail, kMaxDetail);
  if (auto ok = append(r); !ok) {
    spdlog::error("audit: could not record {} {} by {} (status {}): {}", r.action, r.target,
                  r.key_id, r.status, ok.error().message);
  }
}

Result<void> AuditLog::append(const AuditRecord& r) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "INSERT INTO audit_log (time_us, key_id, tenant, action, target, remote, status, detail) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st) return st.error();
  st->bind(1, r.time_us)
      .bind(2, std::string_view(r.key_id))
      .bind(3, std::string_view(r.tenant))
      .bind(4, std::string_view(r.action))
      .bind(5, std::string_view(r.target))
      .bind(6, std::string_view(r.remote))
      .bind(7, static_cast<int64_t>(r.status))
      .bind(8, std::string_view(r.detail));
  if (auto ok = st->run(); !ok) return ok;
  // seq only grows (AUTOINCREMENT), so the oldest rows are those below the newest - max.
  // A range on the primary key: a seek when there is nothing to delete.
  int64_t oldest_kept = db_->last_insert_rowid() - max_rows_ + 1;
  return db_->freeing([&]() -> Result<void> {
    auto prune = db_->prepare("DELETE FROM audit_log WHERE seq < ?1");
    if (!prune) return prune.error();
    prune->bind(1, oldest_kept);
    return prune->run();
  });
}

Result<std::vector<AuditRecord>> AuditLog::read(const AuditQuery& query) const {
  if (query.limit < 1 || query.limit > kMaxLimit) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("limit must be 1..{}, got {}", kMaxLimit, query.limit));
  }
  std::string sql =
      "SELECT seq, time_us, key_id, tenant, action, target, remote, status, detail FROM "
      "audit_log WHERE time_us >= ?1";
  if (query.tenant) sql += " AND tenant = ?3";
  sql += " ORDER BY seq DESC LIMIT ?2";
  std::lock_guard lock(mu_);
  auto st = db_->prepare(sql);
  if (!st) return st.error();
  st->bind(1, query.since_us).bind(2, query.limit);
  if (query.tenant) st->bind(3, std::string_view(*query.tenant));
  std::vector<AuditRecord> out;
  while (true) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(AuditRecord{st->int64(0), st->int64(1), st->text(2), st->text(3), st->text(4),
                              st->text(5), st->text(6), static_cast<int>(st->int64(7)),
                              st->text(8)});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void record_unidentified(AuditLog& audit, const http::Request& req, std::string_view action,
                         std::string_view target, const Error& error) {
  Caller claimed;
  claimed.key_id = claimed_key_id(req);
  audit.record(claimed, action, target, req.remote_address, http::status_of(error.code),
               error.message);
}

std::optional<Caller> admit_change(const Access& access, AuditLog* audit, const http::Request& req,
                                   Action action, const Resource& resource,
                                   std::string_view audit_action, http::Responder& out) {
  auto caller = access.identify(req.header("Authorization"));
  if (!caller) {
    if (audit != nullptr) {
      record_unidentified(*audit, req, audit_action, resource.name, caller.error());
    }
    out.send(refusal(caller.error()));
    return std::nullopt;
  }
  if (auto ok = Access::permit(*caller, action, resource); !ok) {
    if (audit != nullptr) {
      audit->record(*caller, audit_action, resource.name, req.remote_address,
                    http::status_of(ok.error().code), ok.error().message);
    }
    out.send(refusal(ok.error()));
    return std::nullopt;
  }
  return std::move(*caller);
}

}  // namespace kumo::auth
