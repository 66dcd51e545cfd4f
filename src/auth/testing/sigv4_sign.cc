#include "auth/testing/sigv4_sign.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "auth/sigv4_canonical.h"
#include "auth/sigv4_crypto.h"

namespace kumo::auth::testing {
namespace {

Digest key_of(const S3Signer& s) {
  return signing_key(s.secret, s.amz_date.substr(0, 8), s.region, "s3");
}

}  // namespace

std::string S3Signer::scope() const {
  return amz_date.substr(0, 8) + "/" + region + "/s3/aws4_request";
}

std::string sha256_hex(std::string_view data) { return auth::sha256_hex(data); }

SignedS3 sign_s3(const S3Signer& signer, std::string_view method, std::string_view host,
                 std::string_view path, std::string_view query, std::string_view payload_hash,
                 Headers extra) {
  Headers h = std::move(extra);
  h.emplace_back("host", host);
  h.emplace_back("x-amz-date", signer.amz_date);
  h.emplace_back("x-amz-content-sha256", payload_hash);
  std::vector<std::string> names;
  for (auto& [name, value] : h) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::string signed_names;
  for (const auto& n : names) signed_names += (signed_names.empty() ? "" : ";") + n;
  std::string creq =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}", method, canonical_uri(path, true).value_or(""),
                  canonical_query(parse_query(query, 1000).value_or(std::vector<QueryParam>{})),
                  canonical_headers(h, names).value_or(""), signed_names, payload_hash);
  std::string sts = fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", signer.amz_date, signer.scope(),
                                auth::sha256_hex(creq));
  SignedS3 out;
  out.signature = hex(hmac_sha256(as_view(key_of(signer)), sts));
  h.emplace_back("Authorization",
                 fmt::format("AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
                             signer.access_key_id, signer.scope(), signed_names, out.signature));
  out.headers = std::move(h);
  return out;
}

std::string aws_chunked_body(const S3Signer& signer, std::string_view seed,
                             const std::vector<std::string>& chunks) {
  static const std::string kEmpty = auth::sha256_hex("");
  Digest key = key_of(signer);
  std::string previous(seed);
  std::string body;
  auto add = [&](std::string_view data) {
    std::string sts = fmt::format("AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}", signer.amz_date,
                                  signer.scope(), previous, kEmpty, auth::sha256_hex(data));
    previous = hex(hmac_sha256(as_view(key), sts));
    body += fmt::format("{:x};chunk-signature={}\r\n", data.size(), previous);
    body.append(data);
    body += "\r\n";
  };
  for (const auto& c : chunks) add(c);
  add("");
  return body;
}

}  // namespace kumo::auth::testing
