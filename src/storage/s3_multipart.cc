// S3Service's multipart operations: CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload, ListParts (AbortMultipartUpload is one call in s3_service.cc).
#include <fmt/format.h>

#include <charconv>

#include "http/types.h"
#include "storage/event_record.h"
#include "storage/s3_call.h"
#include "storage/s3_http.h"
#include "storage/s3_service.h"
#include "storage/xml.h"

namespace kumo::storage {
namespace {

std::optional<int> to_int(std::string_view text) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

S3Result<std::vector<CompletedPart>> parse_parts(std::string_view body) {
  auto doc = parse_xml(body);
  if (!doc) return doc.error();
  if (doc->name != "CompleteMultipartUpload") {
    return s3_error("MalformedXML", "the root element must be <CompleteMultipartUpload>");
  }
  std::vector<CompletedPart> parts;
  for (const auto& c : doc->children) {
    if (c.name != "Part") continue;
    const XmlElement* number = c.child("PartNumber");
    const XmlElement* etag = c.child("ETag");
    auto n = number != nullptr ? to_int(number->text) : std::nullopt;
    if (!n || etag == nullptr) {
      return s3_error("MalformedXML", "each <Part> needs a numeric <PartNumber> and an <ETag>");
    }
    parts.push_back({*n, etag->text});
  }
  return parts;
}

}  // namespace

S3Result<http::Response> S3Service::create_upload(S3Call& call) {
  auto id = store_->create_upload(call.bucket, call.key, meta_from_headers(call.req.headers));
  if (!id) return id.error();
  XmlWriter w("InitiateMultipartUploadResult");
  w.leaf("Bucket", call.shown_bucket).leaf("Key", call.key).leaf("UploadId", *id);
  http::Response r = xml_response(200, w.finish());
  if (std::string algo = call.req.header("x-amz-checksum-algorithm"); !algo.empty()) {
    r.headers.emplace_back("x-amz-checksum-algorithm", algo);
  }
  return r;
}

S3Result<http::Response> S3Service::upload_part(S3Call& call) {
  if (!call.req.header("x-amz-copy-source").empty()) {
    return s3_error("NotImplemented", "Kumo's object store does not implement UploadPartCopy");
  }
  auto number = to_int(call.q("partNumber"));
  if (!number || call.q("uploadId").empty()) {
    return s3_error("InvalidArgument", "UploadPart needs ?partNumber=1..10000&uploadId=...");
  }
  std::string crc32_sent;
  auto part = store_->upload_part_streamed(
      call.bucket, call.key, call.q("uploadId"), *number,
      [&](const ByteSink& sink) -> S3Result<StoredBody> {
        auto body = stream_payload(call.req, options_.max_object_bytes, sink, call.seed());
        if (!body) return body.error();
        crc32_sent = std::move(body->crc32_sent);
        return body->stored;
      });
  if (!part) return part.error();
  http::Response r;
  r.headers.emplace_back("ETag", quote_etag(part->etag));
  if (!crc32_sent.empty()) r.headers.emplace_back("x-amz-checksum-crc32", crc32_sent);
  return r;
}

S3Result<http::Response> S3Service::complete_upload(S3Call& call) {
  auto body = read_payload(call.req, options_.max_object_bytes, call.seed());
  if (!body) return body.error();
  auto parts = parse_parts(body->data);
  if (!parts) return parts.error();
  auto info = store_->complete_upload(call.bucket, call.key, call.q("uploadId"), *parts);
  if (!info) return info.error();
  notify(call, "ObjectCreated:CompleteMultipartUpload", *info);
  XmlWriter w("CompleteMultipartUploadResult");
  std::string host = call.req.header("host");
  w.leaf("Location", fmt::format("http://{}/s3/{}/{}", host, call.shown_bucket,
                                 http::url_encode(call.key, true)))
      .leaf("Bucket", call.shown_bucket)
      .leaf("Key", call.key)
      .leaf("ETag", quote_etag(info->etag))
      .leaf("ChecksumCRC32", info->crc32)
      .leaf("ChecksumType", "FULL_OBJECT");
  return xml_response(200, w.finish());
}

S3Result<http::Response> S3Service::list_parts(S3Call& call) {
  auto parts = store_->list_parts(call.bucket, call.key, call.q("uploadId"));
  if (!parts) return parts.error();
  XmlWriter w("ListPartsResult");
  w.leaf("Bucket", call.shown_bucket).leaf("Key", call.key).leaf("UploadId", call.q("uploadId"));
  w.leaf("PartNumberMarker", "0").leaf("MaxParts", "10000").leaf("IsTruncated", "false");
  w.leaf("StorageClass", "STANDARD");
  for (const auto& p : *parts) {
    w.open("Part")
        .leaf("PartNumber", std::to_string(p.number))
        .leaf("LastModified", iso8601_ms(p.mtime_ms))
        .leaf("ETag", quote_etag(p.etag))
        .leaf("Size", std::to_string(p.size))
        .leaf("ChecksumCRC32", p.crc32)
        .close("Part");
  }
  return xml_response(200, w.finish());
}

}  // namespace kumo::storage
