// AWS Signature Version 4 verification: header-signed requests (Authorization:
// AWS4-HMAC-SHA256 ...), presigned URLs (X-Amz-* query parameters, with expiry) and the chunk
// signatures of aws-chunked streaming uploads.
//
// The verifier knows nothing of HTTP or of where keys live: the caller describes the request
// (SignedRequest), passes a lookup from access key id to secret and the current wall time, and
// gets either who signed it (Verified) or a SigV4Error whose code is the S3 error to answer
// with (s3_code). It checks the algorithm, the credential scope, the request time (15 minutes
// of skew; a presigned URL's expiry), the signed headers (host always among them) and the
// signature, compared in constant time. The caller still checks that the body matches an
// x-amz-content-sha256 it passed as payload_hash (S3's XAmzContentSHA256Mismatch).
//
// Everything an outsider controls is bounded (kMax* below). Free functions are pure and
// thread-safe provided `lookup` is; a ChunkVerifier belongs to one request and one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

#include "auth/sigv4_crypto.h"

namespace kumo::auth {

enum class SigV4Code {
  kAccessDenied,                       // 403: no credential, or a presigned URL expired
  kInvalidAccessKeyId,                 // 403: the access key id is not known
  kSignatureDoesNotMatch,              // 403
  kRequestTimeTooSkewed,               // 403: more than 15 minutes from the server's time
  kAuthorizationHeaderMalformed,       // 400
  kAuthorizationQueryParametersError,  // 400
};

// S3's name of a code ("SignatureDoesNotMatch"), for its XML error document.
const char* s3_code(SigV4Code code);

struct SigV4Error {
  SigV4Code code = SigV4Code::kAccessDenied;
  std::string message;
};

template <typename T>
class [[nodiscard]] SigV4Result : public tl::expected<T, SigV4Error> {
 public:
  using tl::expected<T, SigV4Error>::expected;
  SigV4Result(SigV4Error e) : tl::expected<T, SigV4Error>(tl::unexpect, std::move(e)) {}  // NOLINT
};

template <>
class [[nodiscard]] SigV4Result<void> : public tl::expected<void, SigV4Error> {
 public:
  using tl::expected<void, SigV4Error>::expected;
  SigV4Result() = default;
  SigV4Result(SigV4Error e)
      : tl::expected<void, SigV4Error>(tl::unexpect, std::move(e)) {}  // NOLINT
};

inline constexpr size_t kMaxAuthorizationLength = 4096;
inline constexpr size_t kMaxSignedHeaders = 64;
inline constexpr size_t kMaxQueryParams = 256;
inline constexpr size_t kMaxQueryLength = 16384;
inline constexpr std::chrono::minutes kMaxSkew{15};
inline constexpr int64_t kMaxPresignedExpires = 604800;  // seconds: 7 days

inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

// A request as it arrived.
struct SignedRequest {
  std::string method;  // "GET"
  std::string path;    // as on the wire, percent-encoded, without the query
  std::string query;   // raw, without the '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names in any case, repeats kept
  // The x-amz-content-sha256 value (S3 always sends one), or the hex SHA-256 of the body.
  // Unused for presigned URLs under S3 rules, which sign UNSIGNED-PAYLOAD.
  std::string payload_hash;
};

// Returns the secret of an access key id, or nullopt when it is not known.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

struct VerifyOptions {
  // S3's URI rules: the path is encoded once and not normalized. Other services (Lambda's
  // endpoints) normalize the path and encode the already-encoded path again.
  bool s3_rules = true;
  // When set, the credential scope must name this service ("s3").
  std::string service;
};

// Who signed a request, and what a ChunkVerifier needs to go on.
struct Verified {
  std::string access_key_id;
  std::string amz_date;  // "20130524T000000Z"
  std::string scope;     // "20130524/us-east-1/s3/aws4_request"
  std::string region;
  std::string service;
  std::string signature;  // the request's (the seed signature of a streaming upload)
  Digest signing_key{};   // derived from the secret for this scope only
};

using SysTime = std::chrono::system_clock::time_point;

// How a request carries its signature.
enum class AuthKind { kNone, kHeader, kPresigned };
AuthKind classify(const SignedRequest& req);

// Verifies a request signed in its Authorization header.
SigV4Result<Verified> verify_header_signed(const SignedRequest& req, const SecretLookup& lookup,
                                           SysTime now, const VerifyOptions& options = {});

// Verifies a presigned URL (X-Amz-Algorithm, -Credential, -Date, -Expires 1..604800,
// -SignedHeaders and -Signature in the query). An expired one is AccessDenied.
SigV4Result<Verified> verify_presigned(const SignedRequest& req, const SecretLookup& lookup,
                                       SysTime now, const VerifyOptions& options = {});

// Checks the chunk signatures of an aws-chunked body (x-amz-content-sha256:
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD), each chained to the one before, starting from the
// verified seed. Feed a chunk's data with update() in any pieces, then end_chunk() with the
// chunk-signature from its header; the last chunk is the empty one.
class ChunkVerifier {
 public:
  explicit ChunkVerifier(const Verified& seed);

  void update(std::string_view data);
  // SignatureDoesNotMatch for a wrong signature; after a failure or the final empty chunk,
  // every further chunk is refused too.
  SigV4Result<void> end_chunk(std::string_view chunk_signature);
  // update(data) then end_chunk(chunk_signature).
  SigV4Result<void> verify_chunk(std::string_view data, std::string_view chunk_signature);
  // The final empty chunk was verified.
  bool finished() const { return finished_; }

 private:
  Digest signing_key_;
  std::string prefix_;    // "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n"
  std::string previous_;  // the previous chunk's (at first the seed's) signature
  Sha256Stream hash_;
  size_t chunk_bytes_ = 0;
  bool finished_ = false;
  bool failed_ = false;
};

}  // namespace kumo::auth
