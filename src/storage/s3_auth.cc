#include "storage/s3_auth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "storage/checksums.h"  // sha256_hex

namespace kumo::storage {
namespace {

constexpr std::string_view kBearer = "Bearer ";
constexpr std::string_view kSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";

auth::SysTime sys_time(int64_t us) {
  return auth::SysTime(
      std::chrono::duration_cast<auth::SysTime::duration>(std::chrono::microseconds(us)));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_hex_sha256(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

S3Result<S3Identity> bearer(const auth::Access& access, std::string_view authorization) {
  auto caller = access.identify(authorization);
  if (!caller) return access_denied(caller.error().message);
  return S3Identity{std::move(*caller), std::nullopt};
}

// Verifies a SigV4 request (header-signed or presigned) against the key store.
S3Result<S3Identity> sigv4(const auth::Access& access, const auth::SignedRequest& signed_req,
                           auth::AuthKind kind) {
  int64_t now = access.now_us();
  std::optional<auth::KeyWithSecret> signer;
  std::string why_not;  // why the key store had no secret for the id
  auto lookup = [&](std::string_view id) -> std::optional<std::string> {
    auto key = access.keys()->signer(id, now);
    if (!key) {
      why_not = key.error().message;
      return std::nullopt;
    }
    signer = std::move(*key);
    return signer->secret;
  };
  auto verified = kind == auth::AuthKind::kHeader
                      ? auth::verify_header_signed(signed_req, lookup, sys_time(now))
                      : auth::verify_presigned(signed_req, lookup, sys_time(now));
  if (!verified) {
    std::string message = verified.error().message;
    if (verified.error().code == auth::SigV4Code::kInvalidAccessKeyId && !why_not.empty()) {
      message = "the AWS access key id you provided does not exist in our records: " + why_not;
    }
    return s3_error(auth::s3_code(verified.error().code), std::move(message));
  }
  access.keys()->record_use(signer->record.id, now);
  S3Identity out{auth::Caller{signer->record.id, signer->record.tenant, signer->record.scopes},
                 std::nullopt};
  if (kind == auth::AuthKind::kHeader) {
    if (signed_req.payload_hash == kSignedTrailer) {
      return s3_error("NotImplemented",
                      "Kumo's object store does not take STREAMING-AWS4-HMAC-SHA256-PAYLOAD-"
                      "TRAILER uploads; send STREAMING-AWS4-HMAC-SHA256-PAYLOAD or a signed "
                      "or unsigned payload");
    }
    if (signed_req.payload_hash == auth::kStreamingPayload) out.streaming = std::move(*verified);
  }
  return out;
}

}  // namespace

void show_plain_name(S3Error& error, std::string_view kept, std::string_view shown) {
  if (kept == shown || kept.empty()) return;
  std::string& m = error.message;
  for (size_t pos = 0; (pos = m.find(kept, pos)) != std::string::npos; pos += shown.size()) {
    m.replace(pos, kept.size(), shown);
  }
}

S3Error access_denied(std::string message) { return s3_error("AccessDenied", std::move(message)); }

auth::Action s3_action(std::string_view method) {
  return method == "GET" || method == "HEAD" ? auth::Action::kRead : auth::Action::kWrite;
}

S3Result<S3Identity> identify_s3(const auth::Access& access, const http::Request& req) {
  if (!access.enabled()) {
    auto op = access.identify("");
    return S3Identity{std::move(*op), std::nullopt};
  }
  std::string authorization = req.header("authorization");
  if (authorization.starts_with(kBearer)) return bearer(access, authorization);
  if (authorization.starts_with("AWS ")) {
    return s3_error("InvalidRequest",
                    "the authorization mechanism you have provided is not supported; use "
                    "AWS4-HMAC-SHA256 (Signature Version 4)");
  }
  auth::SignedRequest signed_req{req.method, req.path, req.query, req.headers,
                                 req.header("x-amz-content-sha256")};
  auth::AuthKind kind = auth::classify(signed_req);
  if (kind == auth::AuthKind::kNone) return S3Identity{};
  return sigv4(access, signed_req, kind);
}

S3Result<void> check_content_sha256(const http::Request& req) {
  std::string sent = lower(req.header("x-amz-content-sha256"));
  if (!is_hex_sha256(sent) || sent == sha256_hex(req.body)) return {};
  return s3_error("XAmzContentSHA256Mismatch",
                  "the x-amz-content-sha256 you provided does not match the body");
}

}  // namespace kumo::storage
