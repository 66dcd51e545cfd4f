// S3Service's object operations: PutObject, CopyObject, GetObject/HeadObject (ranges,
// conditions, checksums) and DeleteObject.
#include <fmt/format.h>

#include <array>

#include "http/types.h"
#include "storage/event_record.h"
#include "storage/s3_auth.h"
#include "storage/s3_call.h"
#include "storage/s3_http.h"
#include "storage/s3_service.h"
#include "storage/xml.h"

namespace kumo::storage {
namespace {

// GetObject's response-* query overrides and the headers they set.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kOverrides{{
    {"response-content-type", "Content-Type"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
}};

bool etag_matches(std::string_view header, const std::string& etag) {
  if (header == "*") return true;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = std::min(header.find(',', pos), header.size());
    std::string_view one = header.substr(pos, comma - pos);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one.starts_with("W/")) one.remove_prefix(2);
    if (one.size() >= 2 && one.front() == '"') one = one.substr(1, one.size() - 2);
    if (one == etag) return true;
    pos = comma + 1;
  }
  return false;
}

void set_header(http::Headers& headers, std::string_view name, std::string value) {
  for (auto& [n, v] : headers) {
    if (http::iequals(n, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

struct CopySource {
  std::string bucket;
  std::string key;
};

S3Result<CopySource> parse_copy_source(std::string_view header) {
  std::string source = http::url_decode(header.substr(0, header.find('?')));
  if (!source.empty() && source.front() == '/') source.erase(0, 1);
  size_t slash = source.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == source.size()) {
    return s3_error("InvalidArgument", "x-amz-copy-source must name the source as /bucket/key");
  }
  return CopySource{source.substr(0, slash), source.substr(slash + 1)};
}

}  // namespace

S3Result<http::Response> S3Service::put_object(S3Call& call) {
  // The body goes to a temporary file in the bucket as it arrives, never whole in memory.
  std::string crc32_sent;
  auto info = store_->put_streamed(
      call.bucket, call.key, meta_from_headers(call.req.headers),
      [&](const ByteSink& sink) -> S3Result<StoredBody> {
        auto body = stream_payload(call.req, options_.max_object_bytes, sink, call.seed());
        if (!body) return body.error();
        crc32_sent = std::move(body->crc32_sent);
        return body->stored;
      });
  if (!info) return info.error();
  notify(call, "ObjectCreated:Put", *info);
  http::Response r;
  r.headers.emplace_back("ETag", quote_etag(info->etag));
  if (!crc32_sent.empty()) {
    r.headers.emplace_back("x-amz-checksum-crc32", crc32_sent);
    r.headers.emplace_back("x-amz-checksum-type", "FULL_OBJECT");
  }
  return r;
}

S3Result<http::Response> S3Service::copy_object(S3Call& call) {
  auto source = parse_copy_source(call.req.header("x-amz-copy-source"));
  if (!source) return source.error();
  // The source is read on the caller's behalf: its bucket needs read, named as the caller
  // names it.
  auto may_read = auth::Access::permit(*call.caller, auth::Action::kRead,
                                       auth::Resource::bucket(source->bucket));
  if (!may_read) return access_denied(may_read.error().message);
  std::string source_shown = source->bucket;
  source->bucket = auth::qualify(*call.caller, source->bucket);
  bool replace = call.req.header("x-amz-metadata-directive") == "REPLACE";
  if (!replace && source->bucket == call.bucket && source->key == call.key) {
    return s3_error("InvalidRequest",
                    "copying an object to itself needs x-amz-metadata-directive: REPLACE");
  }
  std::optional<ObjectMeta> meta;
  if (replace) meta = meta_from_headers(call.req.headers);
  auto info = store_->copy(source->bucket, source->key, call.bucket, call.key, std::move(meta));
  if (!info) {
    show_plain_name(info.error(), source->bucket, source_shown);
    return info.error();
  }
  notify(call, "ObjectCreated:Copy", *info);
  XmlWriter w("CopyObjectResult");
  w.leaf("LastModified", iso8601_ms(info->mtime_ms)).leaf("ETag", quote_etag(info->etag));
  return xml_response(200, w.finish());
}

S3Result<http::Response> S3Service::get_object(S3Call& call, bool head) {
  std::optional<OpenObject> opened;
  ObjectInfo info;
  if (head) {
    auto h = store_->head(call.bucket, call.key);
    if (!h) return h.error();
    info = std::move(*h);
  } else {
    auto o = store_->open_object(call.bucket, call.key);
    if (!o) return o.error();
    info = o->info;
    opened.emplace(std::move(*o));
  }
  http::Response r;
  add_object_headers(r.headers, info);
  std::string if_match = call.req.header("if-match");
  if (!if_match.empty() && !etag_matches(if_match, info.etag)) {
    return s3_error("PreconditionFailed", "the object's ETag does not match If-Match");
  }
  std::string if_none = call.req.header("if-none-match");
  if (!if_none.empty() && etag_matches(if_none, info.etag)) {
    r.status = 304;
    return r;
  }
  auto range = parse_range(call.req.header("range"), info.size);
  if (!range) return range.error();
  int64_t first = *range ? (*range)->first : 0;
  int64_t length = *range ? (*range)->last - first + 1 : info.size;
  if (*range) {
    r.status = 206;
    r.headers.emplace_back("Content-Range",
                           fmt::format("bytes {}-{}/{}", first, (*range)->last, info.size));
  } else if (http::iequals(call.req.header("x-amz-checksum-mode"), "ENABLED") &&
             !info.crc32.empty()) {
    // A ranged reply carries no checksum: it would not match the bytes sent.
    r.headers.emplace_back("x-amz-checksum-crc32", info.crc32);
    r.headers.emplace_back("x-amz-checksum-type", "FULL_OBJECT");
  }
  for (const auto& [param, header] : kOverrides) {
    if (call.has(param)) set_header(r.headers, header, call.q(param));
  }
  if (head) {
    // The size GET would send, without reading (or allocating) the object.
    r.headers.emplace_back("Content-Length", std::to_string(length));
    return r;
  }
  auto data = opened->file.read(first, length);
  if (!data) return data.error();
  r.body = std::move(*data);
  return r;
}

S3Result<http::Response> S3Service::delete_object(S3Call& call) {
  auto gone = store_->remove(call.bucket, call.key);
  if (!gone) return gone.error();
  if (*gone) notify(call, "ObjectRemoved:Delete", **gone);
  http::Response r;
  r.status = 204;
  return r;
}

}  // namespace kumo::storage
