// AuditLog: who changed what, when and from where. One record per control-plane call
// (deploy, remove, keys, tenants, buckets, tables), whatever its outcome, and per refusal
// (401/403) of such a call, in the append-only `audit_log` table of kumo.db.
//
// A record names the caller by key id ("anonymous" with authentication off or without a
// credential; for a 401, the id the presented token claims, unverified), the caller's tenant
// ("" for the operator), a dotted action ("function.deploy", "key.revoke"), its target (the
// name as the caller wrote it, or a key id), the peer address and the HTTP status answered.
// Nothing is ever updated; past kMaxRows the oldest records are deleted, so the table stays
// bounded (about 100 bytes a row).
//
// Recording a change must not undo it: record() never fails to its caller (an error writing
// is logged). Text fields are cut to a bound and anything outside printable ASCII becomes
// '?', so a hostile name cannot bloat the table or break a JSON reply.
//
// Thread-safety: every method is thread-safe. Ownership: the log owns its connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/access.h"
#include "common/result.h"
#include "store/sqlite.h"

namespace kumo::auth {

struct AuditRecord {
  int64_t seq = 0;      // ascending in the order of recording
  int64_t time_us = 0;  // wall time, Unix µs
  std::string key_id;   // or "anonymous"
  std::string tenant;   // the caller's; "" for the operator (and for a 401)
  std::string action;   // "function.deploy", "key.create", ...
  std::string target;   // what it acted on; may be empty (a package that did not parse)
  std::string remote;   // the peer's IP address
  int status = 0;       // the HTTP status answered
  std::string detail;   // the error message of a failure or refusal; empty on success
};

struct AuditQuery {
  int64_t since_us = 0;               // records at or after this time
  int64_t limit = 100;                // the newest `limit` of them (1..kMaxLimit)
  std::optional<std::string> tenant;  // only this caller tenant's records; nullopt: all
};

class AuditLog {
 public:
  using Clock = std::function<int64_t()>;  // wall microseconds
  static constexpr int64_t kMaxRows = 100'000;
  static constexpr int64_t kMaxLimit = 1000;

  // Takes the connection and creates the table if needed. `now_us` null: the wall clock.
  static Result<std::unique_ptr<AuditLog>> open(std::unique_ptr<store::Database> db,
                                                Clock now_us = nullptr,
                                                int64_t max_rows = kMaxRows);
  // Opens (creating) the SQLite file at `path`.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path, Clock now_us = nullptr,
                                                int64_t max_rows = kMaxRows);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one record stamped with the clock's time, then deletes the oldest beyond
  // max_rows. `detail` is for the error message of a failure or refusal.
  void record(const Caller& caller, std::string_view action, std::string_view target,
              std::string_view remote, int status, std::string_view detail = {});

  // The newest `query.limit` records at or after `query.since_us`, oldest first.
  // kInvalidArgument for a limit outside 1..kMaxLimit.
  Result<std::vector<AuditRecord>> read(const AuditQuery& query) const;

 private:
  AuditLog(std::unique_ptr<store::Database> db, Clock now_us, int64_t max_rows);
  Result<void> append(const AuditRecord& record);

  mutable std::mutex mu_;
  std::unique_ptr<store::Database> db_;  // Guarded by mu_.
  const Clock now_us_;
  const int64_t max_rows_;
};

// admit() for a control-plane call: a refusal is also recorded in `audit` (when not null) as
// `action` on `resource.name`, from the request's peer, with the 401 or 403 and its message.
std::optional<Caller> admit_change(const Access& access, AuditLog* audit, const http::Request& req,
                                   Action action, const Resource& resource,
                                   std::string_view audit_action, http::Responder& out);

// Who a request is from, for a record: the key its bearer token proves, else the key its
// credential names without proof (a bearer token's id, or the access key id of an AWS SigV4
// signature, which the S3 endpoint verifies), with that key's tenant; else anonymous.
Caller claimed_caller(const Access& access, const http::Request& req);

// Records the refusal of a call whose caller could not be identified (a 401), naming the key
// the request's credential claims, if any.
void record_unidentified(AuditLog& audit, const http::Request& req, std::string_view action,
                         std::string_view target, const Error& error);

}  // namespace kumo::auth
