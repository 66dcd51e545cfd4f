// S3Service: the S3 REST subset (path-style) over an ObjectStore, and the endpoint that
// takes S3/MinIO event notifications from an external store.
//
// Routes (add_storage_routes): ANY /s3 and /s3/{bucket}/{key...} (endpoint `$KUMO_URL/s3`),
// POST /api/v1/storage/events. Handlers hand each request to the service's WorkPool, so
// disk I/O never blocks an HTTP thread. After a change is committed, the service passes an
// S3 event notification record to the EventSink; a sink failure is logged, the object stays.
// Every request is checked first (s3_auth.h: Bearer keys, SigV4 header-signed, presigned
// and aws-chunked, anonymous reads of public-read buckets) and authorized on its bucket:
// kRead for GET and HEAD, kWrite otherwise. A tenant's bucket NAME is kept as TENANT~NAME
// (auth::qualify); its keys see and name it as NAME in every request, reply and error.
// Events carry the bucket as kept.
//
// Threading: thread-safe. The EventSink must outlive the service; stop() (run at shutdown,
// after the listener stopped) finishes queued work and joins the workers.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "auth/access.h"
#include "events/sink.h"
#include "http/router.h"
#include "storage/event_record.h"
#include "storage/object_store.h"
#include "common/work_pool.h"

namespace kumo::storage {

struct StorageOptions {
  int64_t max_object_bytes = 512LL * 1024 * 1024;  // one PutObject or UploadPart body
  int workers = 4;                                 // threads for disk work
};

// The config file's `storage:` section: {max_object_bytes: 536870912 | "512MiB", workers: 4}.
// Null gives the defaults; kInvalidArgument names a bad or unknown field.
Result<StorageOptions> parse_storage_options(const nlohmann::json& section);

struct S3Call;

class S3Service {
 public:
  S3Service(std::unique_ptr<ObjectStore> store, events::EventSink& events, StorageOptions options);
  ~S3Service();

  // Answers one S3 request, checked against `access`; blocks on disk I/O (the routes call
  // it on the pool).
  http::Response handle(http::Request req, const auth::Access& access);
  // Answers POST /api/v1/storage/events: {"Records": [...]} -> 200 {"accepted": N, ...}.
  // Each record's bucket is the caller's tenant's; a record for a bucket the caller may not
  // write refuses the whole notification (403) before any event is queued.
  http::Response handle_notification(const http::Request& req, const auth::Caller& caller);

  // Called after each CreateBucket and DeleteBucket that reached the store, with `action`
  // "bucket.create" or "bucket.delete", the status answered and, for a failure, its message:
  // the audit log's hook. Set before the routes take requests.
  using BucketHook = std::function<void(const http::Request& req, std::string_view action,
                                        const std::string& bucket, int status,
                                        std::string_view detail)>;
  void set_bucket_hook(BucketHook hook) { bucket_hook_ = std::move(hook); }

  void submit(std::function<void()> work) { pool_.submit(std::move(work)); }
  void stop() { pool_.stop(); }
  const StorageOptions& options() const { return options_; }

 private:
  // Identifies and authorizes the request; sets call.caller and call.bucket as kept.
  S3Result<void> admit(S3Call& call, const auth::Access& access);
  S3Result<void> admit_anonymous(S3Call& call);
  static void show_plain_names(const S3Call& call, S3Error& error);
  S3Result<http::Response> dispatch(S3Call& call);
  S3Result<http::Response> bucket_call(S3Call& call);
  S3Result<http::Response> object_call(S3Call& call);
  // Buckets (s3_buckets.cc).
  S3Result<http::Response> list_buckets(const S3Call& call);
  S3Result<http::Response> create_bucket(S3Call& call);
  S3Result<http::Response> delete_bucket(S3Call& call);
  // Tells the bucket hook how a bucket change ended; returns `result`.
  S3Result<http::Response> bucket_changed(const S3Call& call, std::string_view action,
                                          S3Result<http::Response> result);
  S3Result<http::Response> list_objects(S3Call& call, bool v2);
  S3Result<http::Response> delete_objects(S3Call& call);
  S3Result<http::Response> get_bucket_acl(S3Call& call);
  S3Result<http::Response> put_bucket_acl(S3Call& call);
  // Objects (s3_objects.cc).
  S3Result<http::Response> put_object(S3Call& call);
  S3Result<http::Response> copy_object(S3Call& call);
  S3Result<http::Response> get_object(S3Call& call, bool head);
  S3Result<http::Response> delete_object(S3Call& call);
  // Multipart (s3_multipart.cc).
  S3Result<http::Response> create_upload(S3Call& call);
  S3Result<http::Response> upload_part(S3Call& call);
  S3Result<http::Response> complete_upload(S3Call& call);
  S3Result<http::Response> list_parts(S3Call& call);
  // Hands the change's record to the EventSink; logs a failure.
  void notify(const S3Call& call, const std::string& event_name, const ObjectInfo& info);

  std::unique_ptr<ObjectStore> store_;
  events::EventSink& events_;
  const StorageOptions options_;
  Sequencer sequencer_;
  BucketHook bucket_hook_;
  WorkPool pool_;  // last: its threads start after the fields they use
};

// Adds the routes above; each handler holds `service` and runs the work on its pool.
// `access` must outlive the routes.
void add_storage_routes(http::Router& router, const std::shared_ptr<S3Service>& service,
                        const auth::Access& access);

}  // namespace kumo::storage
