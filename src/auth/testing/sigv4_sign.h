// For tests and benchmarks only (library kumo::auth_testing): signs S3 requests with AWS
// Signature Version 4 as botocore does, so servers can be driven with real signatures
// without Python. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kumo::auth::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct S3Signer {
  std::string access_key_id;
  std::string secret;
  std::string amz_date = "20270115T080000Z";  // the request time; its date starts the scope
  std::string region = "us-east-1";

  std::string scope() const;  // "20270115/us-east-1/s3/aws4_request"
};

struct SignedS3 {
  Headers headers;        // `extra` plus host, x-amz-date, x-amz-content-sha256, Authorization
  std::string signature;  // the seed of a streaming upload
};

// Signs every header given (names lower-cased) plus host, x-amz-date and
// x-amz-content-sha256 = `payload_hash`. `path` as sent (percent-encoded), `query` raw.
SignedS3 sign_s3(const S3Signer& signer, std::string_view method, std::string_view host,
                 std::string_view path, std::string_view query, std::string_view payload_hash,
                 Headers extra = {});

// An aws-chunked body of `chunks` and the final empty chunk, each chunk-signature chained
// from `seed` (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
std::string aws_chunked_body(const S3Signer& signer, std::string_view seed,
                             const std::vector<std::string>& chunks);

// The hex SHA-256 of `data` (a payload hash).
std::string sha256_hex(std::string_view data);

}  // namespace kumo::auth::testing
