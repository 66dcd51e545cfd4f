#include "auth/sigv4.h"

#include <charconv>

#include "auth/sigv4_canonical.h"

namespace kumo::auth {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

SigV4Error fail(SigV4Code code, std::string message) { return {code, std::move(message)}; }

// What the Authorization header or the X-Amz-* parameters say, before any check against keys.
struct Claim {
  std::string access_key_id, date, region, service;  // the credential scope
  std::string amz_date;
  std::string signed_headers;  // as sent: "host;x-amz-date"
  std::vector<std::string> signed_names;
  std::string signature;
  // The code for a malformed claim: the header or the query flavour.
  SigV4Code malformed = SigV4Code::kAuthorizationHeaderMalformed;
};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    size_t end = s.find(sep, pos);
    parts.push_back(s.substr(pos, end == std::string_view::npos ? end : end - pos));
    if (end == std::string_view::npos) return parts;
    pos = end + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_signature(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "AKID/20150830/us-east-1/service/aws4_request" into the claim.
SigV4Result<void> parse_credential(std::string_view cred, Claim& claim) {
  auto parts = split(cred, '/');
  if (parts.size() != 5 || parts[0].empty() || parts[1].size() != 8 || parts[2].empty() ||
      parts[3].empty() || parts[4] != "aws4_request") {
    return fail(claim.malformed,
                "the credential must be <access key id>/<yyyymmdd>/<region>/<service>/"
                "aws4_request");
  }
  claim.access_key_id = parts[0];
  claim.date = parts[1];
  claim.region = parts[2];
  claim.service = parts[3];
  return {};
}

SigV4Result<void> parse_signed_headers(std::string_view list, Claim& claim) {
  auto names = split(list, ';');
  if (names.size() > kMaxSignedHeaders) {
    return fail(claim.malformed,
                "more than " + std::to_string(kMaxSignedHeaders) + " signed headers");
  }
  bool host = false;
  for (std::string_view name : names) {
    if (name.empty() || name.size() > 128) return fail(claim.malformed, "bad signed header name");
    for (char c : name) {
      if (c <= ' ' || c > '~' || c == ':' || (c >= 'A' && c <= 'Z')) {
        return fail(claim.malformed, "signed header names must be lower-case tokens");
      }
    }
    host = host || name == "host";
    claim.signed_names.emplace_back(name);
  }
  if (!host) return fail(claim.malformed, "the signed headers must include host");
  claim.signed_headers = list;
  return {};
}

SigV4Result<Claim> parse_authorization(std::string_view value) {
  Claim claim;
  if (value.size() > kMaxAuthorizationLength) {
    return fail(claim.malformed, "the Authorization header is too long");
  }
  if (!value.starts_with(kAlgorithm) || value.size() == kAlgorithm.size() ||
      value[kAlgorithm.size()] != ' ') {
    return fail(claim.malformed, "the Authorization header must start with AWS4-HMAC-SHA256");
  }
  std::optional<std::string_view> cred, signed_headers, signature;
  for (std::string_view item : split(value.substr(kAlgorithm.size() + 1), ',')) {
    item = trim(item);
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    auto* slot = key == "Credential"      ? &cred
                 : key == "SignedHeaders" ? &signed_headers
                 : key == "Signature"     ? &signature
                                          : nullptr;
    if (slot == nullptr || slot->has_value() || eq == std::string_view::npos) {
      return fail(claim.malformed, "unexpected '" + std::string(key) +
                                       "' in the Authorization header; it takes Credential=, "
                                       "SignedHeaders= and Signature=");
    }
    *slot = val;
  }
  if (!cred || !signed_headers || !signature) {
    return fail(claim.malformed,
                "the Authorization header needs Credential=, SignedHeaders= "
                "and Signature=");
  }
  if (auto r = parse_credential(*cred, claim); !r) return r.error();
  if (auto r = parse_signed_headers(*signed_headers, claim); !r) return r.error();
  if (!is_signature(*signature)) {
    return fail(claim.malformed, "the signature must be 64 lower-case hex digits");
  }
  claim.signature = *signature;
  return claim;
}

// The request time from X-Amz-Date, else Date; AccessDenied without a valid one.
SigV4Result<SysTime> request_time(const SignedRequest& req, Claim& claim) {
  std::optional<SysTime> t;
  if (auto amz = header_value(req.headers, "x-amz-date")) {
    t = parse_amz_date(*amz);
  } else if (auto date = header_value(req.headers, "date")) {
    t = parse_http_date(*date);
  }
  if (!t) {
    return fail(SigV4Code::kAccessDenied,
                "AWS authentication requires a valid Date or x-amz-date header");
  }
  claim.amz_date = format_amz_date(*t);
  return *t;
}

SigV4Result<void> check_scope_date(const Claim& claim) {
  if (claim.amz_date.compare(0, 8, claim.date) != 0) {
    return fail(claim.malformed, "the credential date " + claim.date +
                                     " is not the date of the request, " +
                                     claim.amz_date.substr(0, 8));
  }
  return {};
}

// Builds the canonical request and the string to sign, and compares the signature.
SigV4Result<Verified> check_signature(const SignedRequest& req, const Claim& claim,
                                      const std::vector<QueryParam>& params,
                                      std::string_view skip_param, std::string_view payload,
                                      const SecretLookup& lookup, const VerifyOptions& options) {
  if (!options.service.empty() && claim.service != options.service) {
    return fail(claim.malformed, "the credential scope names service '" + claim.service +
                                     "', expected '" + options.service + "'");
  }
  std::optional<std::string> secret = lookup(claim.access_key_id);
  if (!secret) {
    return fail(SigV4Code::kInvalidAccessKeyId,
                "the access key id '" + claim.access_key_id + "' does not exist");
  }
  auto uri = canonical_uri(req.path, options.s3_rules);
  if (!uri) return fail(claim.malformed, "the request path has a malformed %-escape");
  auto headers = canonical_headers(req.headers, claim.signed_names);
  if (!headers) {
    return fail(claim.malformed,
                "the signed header '" + headers.error() + "' is not in the request");
  }
  std::string creq = req.method + "\n" + *uri + "\n" + canonical_query(params, skip_param) + "\n" +
                     *headers + "\n" + claim.signed_headers + "\n" + std::string(payload);
  std::string scope = claim.date + "/" + claim.region + "/" + claim.service + "/aws4_request";
  std::string sts =
      std::string(kAlgorithm) + "\n" + claim.amz_date + "\n" + scope + "\n" + sha256_hex(creq);
  Digest key = signing_key(*secret, claim.date, claim.region, claim.service);
  if (!constant_time_equal(hex(hmac_sha256(as_view(key), sts)), claim.signature)) {
    return fail(SigV4Code::kSignatureDoesNotMatch,
                "the request signature we calculated does not match the signature you "
                "provided; check your key and signing method");
  }
  return Verified{claim.access_key_id, claim.amz_date,  scope, claim.region,
                  claim.service,       claim.signature, key};
}

SigV4Result<std::vector<QueryParam>> query_params(const SignedRequest& req, SigV4Code code) {
  std::optional<std::vector<QueryParam>> params;
  if (req.query.size() <= kMaxQueryLength) params = parse_query(req.query, kMaxQueryParams);
  if (!params) {
    return fail(code, "the query must be at most " + std::to_string(kMaxQueryLength) +
                          " bytes in at most " + std::to_string(kMaxQueryParams) +
                          " well-formed parameters");
  }
  return std::move(*params);
}

}  // namespace

const char* s3_code(SigV4Code code) {
  switch (code) {
    case SigV4Code::kAccessDenied:
      return "AccessDenied";
    case SigV4Code::kInvalidAccessKeyId:
      return "InvalidAccessKeyId";
    case SigV4Code::kSignatureDoesNotMatch:
      return "SignatureDoesNotMatch";
    case SigV4Code::kRequestTimeTooSkewed:
      return "RequestTimeTooSkewed";
    case SigV4Code::kAuthorizationHeaderMalformed:
      return "AuthorizationHeaderMalformed";
    case SigV4Code::kAuthorizationQueryParametersError:
      return "AuthorizationQueryParametersError";
  }
  return "AccessDenied";
}

AuthKind classify(const SignedRequest& req) {
  if (header_value(req.headers, "authorization")) return AuthKind::kHeader;
  std::string_view q = req.query;
  for (std::string_view item : split(q, '&')) {
    if (item.starts_with("X-Amz-Algorithm=") || item.starts_with("X-Amz-Signature=")) {
      return AuthKind::kPresigned;
    }
  }
  return AuthKind::kNone;
}

SigV4Result<Verified> verify_header_signed(const SignedRequest& req, const SecretLookup& lookup,
                                           SysTime now, const VerifyOptions& options) {
  std::optional<std::string_view> value;
  for (const auto& [name, v] : req.headers) {
    if (iequals(name, "authorization")) {
      if (value) return fail(SigV4Code::kAuthorizationHeaderMalformed, "two Authorization headers");
      value = v;
    }
  }
  if (!value) return fail(SigV4Code::kAccessDenied, "the request carries no credential");
  auto claim = parse_authorization(trim(*value));
  if (!claim) return claim.error();
  auto t = request_time(req, *claim);
  if (!t) return t.error();
  if (auto r = check_scope_date(*claim); !r) return r.error();
  if (*t > now + kMaxSkew || *t < now - kMaxSkew) {
    return fail(SigV4Code::kRequestTimeTooSkewed,
                "the difference between the request time and the server's time is too large");
  }
  auto params = query_params(req, claim->malformed);
  if (!params) return params.error();
  if (req.payload_hash.empty()) {
    return fail(claim->malformed, "the request names no payload hash (x-amz-content-sha256)");
  }
  return check_signature(req, *claim, *params, {}, req.payload_hash, lookup, options);
}

namespace {

// The X-Amz-* parameters of a presigned URL into a claim; each must appear exactly once.
SigV4Result<Claim> parse_presigned(const std::vector<QueryParam>& params, int64_t& expires) {
  constexpr SigV4Code kBad = SigV4Code::kAuthorizationQueryParametersError;
  Claim claim;
  claim.malformed = kBad;
  static constexpr std::string_view kNames[] = {"X-Amz-Algorithm",     "X-Amz-Credential",
                                                "X-Amz-Date",          "X-Amz-Expires",
                                                "X-Amz-SignedHeaders", "X-Amz-Signature"};
  std::optional<std::string_view> v[6];
  for (const auto& [name, value] : params) {
    for (size_t i = 0; i < 6; ++i) {
      if (name != kNames[i]) continue;
      if (v[i]) return fail(kBad, std::string(name) + " appears twice");
      v[i] = value;
    }
  }
  for (size_t i = 0; i < 6; ++i) {
    if (!v[i]) return fail(kBad, "a presigned URL needs " + std::string(kNames[i]));
  }
  if (*v[0] != kAlgorithm) return fail(kBad, "X-Amz-Algorithm must be AWS4-HMAC-SHA256");
  if (auto r = parse_credential(*v[1], claim); !r) return r.error();
  if (!parse_amz_date(*v[2])) return fail(kBad, "X-Amz-Date must look like 20130524T000000Z");
  claim.amz_date = *v[2];
  auto [end, ec] = std::from_chars(v[3]->data(), v[3]->data() + v[3]->size(), expires);
  if (ec != std::errc() || end != v[3]->data() + v[3]->size() || expires < 1 ||
      expires > kMaxPresignedExpires) {
    return fail(kBad, "X-Amz-Expires must be a number of seconds from 1 to 604800");
  }
  if (auto r = parse_signed_headers(*v[4], claim); !r) return r.error();
  if (!is_signature(*v[5])) return fail(kBad, "X-Amz-Signature must be 64 lower-case hex digits");
  claim.signature = *v[5];
  return claim;
}

}  // namespace

SigV4Result<Verified> verify_presigned(const SignedRequest& req, const SecretLookup& lookup,
                                       SysTime now, const VerifyOptions& options) {
  auto params = query_params(req, SigV4Code::kAuthorizationQueryParametersError);
  if (!params) return params.error();
  int64_t expires = 0;
  auto claim = parse_presigned(*params, expires);
  if (!claim) return claim.error();
  if (auto r = check_scope_date(*claim); !r) return r.error();
  SysTime t = *parse_amz_date(claim->amz_date);
  if (t > now + kMaxSkew) return fail(SigV4Code::kAccessDenied, "Request is not valid yet");
  if (now > t + std::chrono::seconds(expires)) {
    return fail(SigV4Code::kAccessDenied, "Request has expired");
  }
  std::string_view payload = options.s3_rules ? kUnsignedPayload : req.payload_hash;
  return check_signature(req, *claim, *params, "X-Amz-Signature", payload, lookup, options);
}

ChunkVerifier::ChunkVerifier(const Verified& seed)
    : signing_key_(seed.signing_key),
      prefix_("AWS4-HMAC-SHA256-PAYLOAD\n" + seed.amz_date + "\n" + seed.scope + "\n"),
      previous_(seed.signature) {}

void ChunkVerifier::update(std::string_view data) {
  hash_.update(data);
  chunk_bytes_ += data.size();
}

SigV4Result<void> ChunkVerifier::end_chunk(std::string_view chunk_signature) {
  static const std::string kEmptyHash = sha256_hex("");
  std::string data_hash = hex(hash_.finish());
  bool empty = chunk_bytes_ == 0;
  chunk_bytes_ = 0;
  if (failed_ || finished_) {
    failed_ = true;
    return fail(SigV4Code::kSignatureDoesNotMatch, "a chunk after the final chunk or a bad one");
  }
  std::string sts = prefix_ + previous_ + "\n" + kEmptyHash + "\n" + data_hash;
  std::string expected = hex(hmac_sha256(as_view(signing_key_), sts));
  if (!constant_time_equal(expected, chunk_signature)) {
    failed_ = true;
    return fail(SigV4Code::kSignatureDoesNotMatch,
                "a chunk signature does not match the chunk's data");
  }
  previous_ = std::move(expected);
  finished_ = empty;
  return {};
}

SigV4Result<void> ChunkVerifier::verify_chunk(std::string_view data,
                                              std::string_view chunk_signature) {
  update(data);
  return end_chunk(chunk_signature);
}

}  // namespace kumo::auth
