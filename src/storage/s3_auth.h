// Internal to src/storage: who sent an S3 request, and whether it may do what it asks.
//
// With authentication on (auth::Access::enabled()), a request is signed by one of:
// `Authorization: Bearer <kumo key>` (Kumo's CLI), AWS SigV4 in the Authorization header
// (aws-chunked streaming uploads among them), or a presigned URL (X-Amz-* query). The SigV4
// access key id is a Kumo key id (kk_...), its secret the secret part of the key's token;
// KeyStore::signer() finds it, ephemeral (function instance) keys included. A request with
// none of these is anonymous: it may only GET or HEAD objects of a public-read bucket.
// Errors are S3's: AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
// RequestTimeTooSkewed, AuthorizationHeaderMalformed, AuthorizationQueryParametersError.
// With authentication off every request is the operator's.
//
// Pure functions over their arguments (the KeyStore is thread-safe); thread-safe.
#pragma once

#include <optional>

#include "auth/access.h"
#include "auth/sigv4.h"
#include "http/handler.h"
#include "storage/s3_error.h"

namespace kumo::storage {

struct S3Identity {
  std::optional<auth::Caller> caller;       // nullopt: anonymous
  std::optional<auth::Verified> streaming;  // set for a signed aws-chunked body: its seed
};

// Who sent `req`. A signed request that fails its check is an error; one with no
// credential at all is anonymous (a caller-less identity).
S3Result<S3Identity> identify_s3(const auth::Access& access, const http::Request& req);

// What a request of `method` on a bucket needs: kRead for GET and HEAD, kWrite otherwise.
auth::Action s3_action(std::string_view method);

// Rewrites the bucket name `kept` (TENANT~NAME) in an error's message as the client knows
// it, `shown`.
void show_plain_name(S3Error& error, std::string_view kept, std::string_view shown);

// AccessDenied (403) with `message`.
S3Error access_denied(std::string message);

// For a buffered body: XAmzContentSHA256Mismatch unless it matches a hex
// x-amz-content-sha256 (other values, such as UNSIGNED-PAYLOAD, are not checked here).
S3Result<void> check_content_sha256(const http::Request& req);

}  // namespace kumo::storage
