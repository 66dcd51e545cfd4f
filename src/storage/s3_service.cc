#include "storage/s3_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "common/ids.h"
#include "http/types.h"
#include "storage/s3_auth.h"
#include "storage/s3_call.h"
#include "storage/s3_http.h"
#include "storage/store_rows.h"

namespace kumo::storage {
namespace {

// Sub-resources of S3's API this store does not have; anything else in the query is
// ignored, as S3 does (the SDK adds x-id=PutObject and the like).
constexpr std::array<std::string_view, 26> kUnsupported{"acl",
                                                        "accelerate",
                                                        "analytics",
                                                        "attributes",
                                                        "cors",
                                                        "encryption",
                                                        "intelligent-tiering",
                                                        "inventory",
                                                        "legal-hold",
                                                        "lifecycle",
                                                        "logging",
                                                        "metrics",
                                                        "notification",
                                                        "object-lock",
                                                        "ownershipControls",
                                                        "policy",
                                                        "policyStatus",
                                                        "publicAccessBlock",
                                                        "replication",
                                                        "requestPayment",
                                                        "restore",
                                                        "retention",
                                                        "select",
                                                        "tagging",
                                                        "versioning",
                                                        "website"};

S3Error not_implemented(std::string_view what) {
  return s3_error("NotImplemented", fmt::format("Kumo's object store does not implement {}", what));
}

bool wants_json(const http::Request& req) {
  return req.header("accept").find("application/json") != std::string::npos;
}

std::string new_s3_request_id() {
  std::string id = new_short_id();
  std::transform(id.begin(), id.end(), id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return id;
}

}  // namespace

S3Service::S3Service(std::unique_ptr<ObjectStore> store, events::EventSink& events,
                     StorageOptions options)
    : store_(std::move(store)), events_(events), options_(options), pool_(options.workers) {}

S3Service::~S3Service() { pool_.stop(); }

http::Response S3Service::handle(http::Request req, const auth::Access& access) {
  S3Call call;
  call.query = http::parse_query(req.query);
  call.shown_bucket = req.params.count("bucket") ? req.params["bucket"] : "";
  call.bucket = call.shown_bucket;
  call.key = req.params.count("key") ? req.params["key"] : "";
  call.request_id = new_s3_request_id();
  bool json = wants_json(req);
  call.req = std::move(req);
  S3Result<http::Response> result = [&]() -> S3Result<http::Response> {
    try {
      if (auto ok = admit(call, access); !ok) return ok.error();
      return dispatch(call);
    } catch (const std::exception& e) {  // bad_alloc for a huge body, a library throw
      return internal_error(fmt::format("{} {}: {}", call.req.method, call.resource(), e.what()));
    }
  }();
  if (!result) show_plain_names(call, result.error());
  http::Response r = result
                         ? std::move(*result)
                         : error_response(result.error(), call.resource(), call.request_id, json);
  if (!result && call.req.method == "HEAD") r.body.clear();  // S3 sends no body on HEAD
  r.headers.emplace_back("x-amz-request-id", call.request_id);
  r.headers.emplace_back("Server", "Kumo");
  return r;
}

S3Result<void> S3Service::admit(S3Call& call, const auth::Access& access) {
  auto who = identify_s3(access, call.req);
  if (!who) return who.error();
  call.caller = std::move(who->caller);
  call.streaming = std::move(who->streaming);
  if (!call.caller) return admit_anonymous(call);
  if (!call.shown_bucket.empty()) {
    auth::Action action = s3_action(call.req.method);
    auto ok = auth::Access::permit(*call.caller, action, auth::Resource::bucket(call.shown_bucket));
    if (!ok) return access_denied(ok.error().message);
    call.bucket = auth::qualify(*call.caller, call.shown_bucket);
  }
  if (!call.req.body_reader) return check_content_sha256(call.req);
  return {};
}

S3Result<void> S3Service::admit_anonymous(S3Call& call) {
  const std::string& m = call.req.method;
  bool object_read = (m == "GET" || m == "HEAD") && !call.key.empty() && !call.has("uploadId");
  // Another tenant's bucket is named by its full name, TENANT~NAME, as it is kept.
  if (object_read && !call.bucket.empty()) {
    auto open = store_->public_read(call.bucket);
    if (open && *open) return {};
  }
  return access_denied(
      "Access Denied: this request carries no credential (sign it with a Kumo key's id and "
      "secret, or send Authorization: Bearer <key>); without one, only objects of public-read "
      "buckets can be read");
}

// Errors of the store name buckets as kept; the client knows its own by their plain names.
void S3Service::show_plain_names(const S3Call& call, S3Error& error) {
  show_plain_name(error, call.bucket, call.shown_bucket);
}

S3Result<http::Response> S3Service::dispatch(S3Call& call) {
  for (std::string_view sub : kUnsupported) {
    // ?acl of a bucket is GetBucketAcl / PutBucketAcl (canned ACLs only); of an object, no.
    if (sub == "acl" && call.key.empty() && !call.bucket.empty()) continue;
    if (call.has(sub)) return not_implemented(fmt::format("the ?{} sub-resource", sub));
  }
  if (call.bucket.empty()) {
    if (call.req.method == "GET" || call.req.method == "HEAD") return list_buckets(call);
    return s3_error("MethodNotAllowed", "only GET is allowed on the service; name a bucket");
  }
  return call.key.empty() ? bucket_call(call) : object_call(call);
}

S3Result<http::Response> S3Service::bucket_call(S3Call& call) {
  const std::string& m = call.req.method;
  if (call.has("acl")) {
    if (m == "GET") return get_bucket_acl(call);
    if (m == "PUT") return put_bucket_acl(call);
  }
  if (m == "PUT") return bucket_changed(call, "bucket.create", create_bucket(call));
  if (m == "HEAD") {
    if (!store_->bucket_exists(call.bucket)) {
      return no_such_bucket(call.bucket);
    }
    http::Response r;
    r.headers.emplace_back("x-amz-bucket-region", "us-east-1");
    return r;
  }
  if (m == "GET") {
    if (call.has("uploads")) return not_implemented("ListMultipartUploads");
    if (call.has("location")) {
      if (!store_->bucket_exists(call.bucket)) {
        return no_such_bucket(call.bucket);
      }
      return xml_response(200,
                          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint "
                          "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>");
    }
    return list_objects(call, call.q("list-type") == "2");
  }
  if (m == "DELETE") return bucket_changed(call, "bucket.delete", delete_bucket(call));
  if (m == "POST" && call.has("delete")) return delete_objects(call);
  return s3_error("MethodNotAllowed",
                  fmt::format("{} is not allowed on a bucket", call.req.method));
}

S3Result<http::Response> S3Service::object_call(S3Call& call) {
  const std::string& m = call.req.method;
  if (m == "PUT") {
    if (call.has("uploadId") || call.has("partNumber")) return upload_part(call);
    if (!call.req.header("x-amz-copy-source").empty()) return copy_object(call);
    return put_object(call);
  }
  if (m == "GET" && call.has("uploadId")) return list_parts(call);
  if (m == "GET" || m == "HEAD") return get_object(call, m == "HEAD");
  if (m == "DELETE") {
    if (call.has("uploadId")) {
      if (auto r = store_->abort_upload(call.bucket, call.key, call.q("uploadId")); !r) {
        return r.error();
      }
      http::Response r;
      r.status = 204;
      return r;
    }
    return delete_object(call);
  }
  if (m == "POST" && call.has("uploads")) return create_upload(call);
  if (m == "POST" && call.has("uploadId")) return complete_upload(call);
  if (m == "POST") return not_implemented("POST on an object (browser form uploads)");
  return s3_error("MethodNotAllowed",
                  fmt::format("{} is not allowed on an object", call.req.method));
}

void S3Service::notify(const S3Call& call, const std::string& event_name, const ObjectInfo& info) {
  ObjectChange change{event_name,
                      info.bucket,
                      info.key,
                      info.size,
                      info.etag,
                      now_ms(),
                      sequencer_.next(now_ms() * 1000),
                      call.req.remote_address,
                      call.request_id};
  auto queued = events_.object_changed(object_event(change));
  if (!queued) {
    spdlog::warn("storage: {} {}/{}: the event was not delivered: {}", event_name, info.bucket,
                 info.key, queued.error().message);
  }
}

void add_storage_routes(http::Router& router, const std::shared_ptr<S3Service>& service,
                        const auth::Access& access) {
  auto s3 = [service, &access](http::Request&& req, std::shared_ptr<http::Responder> responder) {
    service->submit(
        [service, &access, req = std::move(req), responder = std::move(responder)]() mutable {
          responder->send(service->handle(std::move(req), access));
        });
  };
  // Bodies a little over the object limit still reach the handler, which answers S3's
  // EntityTooLarge; the slack covers aws-chunked framing and XML request bodies.
  size_t limit = static_cast<size_t>(service->options().max_object_bytes) +
                 static_cast<size_t>(service->options().max_object_bytes / 16) + (1 << 20);
  router.add("*", "/s3", s3);
  router.add("*", "/s3/", s3);
  // PUT bodies (PutObject, UploadPart) stream to disk as they arrive; added first, so it
  // wins over the route for the other methods, whose bodies are small XML.
  router.add_streaming("PUT", "/s3/{bucket}/{key...}", s3, limit);
  router.add("*", "/s3/{bucket}/{key...}", s3, limit);
  router.add("POST", "/api/v1/storage/events",
             [service, &access](http::Request&& req, std::shared_ptr<http::Responder> responder) {
               // Notifications of another S3 store, for buckets the key may write.
               auto caller = access.identify(req.header("Authorization"));
               if (!caller) return responder->send(auth::refusal(caller.error()));
               service->submit([service, req = std::move(req), caller = *std::move(caller),
                                responder = std::move(responder)] {
                 responder->send(service->handle_notification(req, caller));
               });
             });
}

}  // namespace kumo::storage
