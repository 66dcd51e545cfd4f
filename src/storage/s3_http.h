// Internal to src/storage: reading S3 requests and writing S3 responses — bodies (with
// aws-chunked decoding and checksum checks), stored headers, ranges, dates, XML errors.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "http/handler.h"
#include "storage/checksums.h"
#include "storage/object_store.h"
#include "storage/s3_error.h"

namespace kumo::storage {

// A request body, decoded and checked against every checksum the client sent.
struct Payload {
  std::string data;
  BodyDigest digest;
  std::string crc32_sent;  // the client's x-amz-checksum-crc32, to echo back; may be ""
};

// Decodes aws-chunked bodies and verifies Content-MD5 (BadDigest, InvalidDigest),
// x-amz-checksum-crc32/sha1/sha256 (BadDigest) and a hex x-amz-content-sha256
// (XAmzContentSHA256Mismatch). EntityTooLarge past `max_bytes`. With `seed` (a verified
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD request), every chunk's signature is checked against
// the chain it starts (SignatureDoesNotMatch).
S3Result<Payload> read_payload(http::Request& req, int64_t max_bytes,
                               const auth::Verified* seed = nullptr);

// Reads a streamed body (req.body_reader) whole into req.body and checks it against a hex
// x-amz-content-sha256; EntityTooLarge past `max_bytes`. Nothing to do when the route
// buffered it (S3Service checked that one).
S3Result<void> read_whole_body(http::Request& req, int64_t max_bytes);

// A body streamed to its destination: what was written, and the client's CRC32 to echo.
struct StreamedPayload {
  StoredBody stored;
  std::string crc32_sent;
};
// read_payload() for a body that never sits in memory: it is read from req.body_reader (or
// req.body when the route buffered it) as it arrives, decoded and hashed on the way, and
// passed to `sink`. It stops with EntityTooLarge as soon as it is over `max_bytes` (by a
// declared length, or while it streams); checksums are checked at its end, so the caller
// must discard what the sink got on any error.
S3Result<StreamedPayload> stream_payload(http::Request& req, int64_t max_bytes,
                                         const ByteSink& sink,
                                         const auth::Verified* seed = nullptr);

// Content-Type and the headers S3 stores with an object (x-amz-meta-*, cache-control, ...).
ObjectMeta meta_from_headers(const http::Headers& headers);
// Adds an object's stored headers, ETag and Last-Modified to a response.
void add_object_headers(http::Headers& out, const ObjectInfo& info);

struct ByteRange {
  int64_t first = 0;
  int64_t last = 0;  // inclusive
};
// A Range header against an object of `size` bytes. nullopt means the whole object (no
// header, or one S3 ignores: several ranges, bad syntax). InvalidRange when unsatisfiable.
S3Result<std::optional<ByteRange>> parse_range(std::string_view header, int64_t size);

// "Wed, 01 May 2024 12:34:56 GMT"
std::string http_date(int64_t time_ms);
std::string quote_etag(std::string_view etag);

http::Response xml_response(int status, std::string body);
// The S3 <Error> document for `error`, or Kumo's JSON error shape when `json` (the CLI
// asks for that with Accept: application/json).
http::Response error_response(const S3Error& error, std::string_view resource,
                              std::string_view request_id, bool json);

}  // namespace kumo::storage
