#include "auth/sigv4_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "common/check.h"

namespace kumo::auth {
namespace {

// OpenSSL 3 looks algorithms up by name on every one-shot call (EVP_sha256(), HMAC()); a
// SigV4 check makes seven of them, so the digest and an HMAC context set to SHA-256 are
// made once and copied. The copies are this thread's own; the originals are never changed.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  KUMO_CHECK(md != nullptr);
  return md;
}

const EVP_MAC_CTX* hmac_template() {
  static EVP_MAC_CTX* const ctx = [] {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    KUMO_CHECK(mac != nullptr);
    EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context holds its own reference
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    KUMO_CHECK(c != nullptr && EVP_MAC_CTX_set_params(c, params) == 1);
    return c;
  }();
  return ctx;
}

}  // namespace

Digest sha256(std::string_view data) {
  Digest d{};
  unsigned int len = 0;
  KUMO_CHECK(EVP_Digest(data.data(), data.size(), d.data(), &len, sha256_md(), nullptr) == 1);
  return d;
}

Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest d{};
  size_t len = 0;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(hmac_template());
  KUMO_CHECK(ctx != nullptr);
  bool ok =
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr) ==
          1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
      EVP_MAC_final(ctx, d.data(), &len, d.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  KUMO_CHECK(ok && len == d.size());
  return d;
}

std::string hex(const Digest& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(d.size() * 2);
  for (uint8_t b : d) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return hex(sha256(data)); }

Digest signing_key(std::string_view secret, std::string_view date, std::string_view region,
                   std::string_view service) {
  std::string k = "AWS4";
  k.append(secret);
  Digest d = hmac_sha256(k, date);
  d = hmac_sha256(as_view(d), region);
  d = hmac_sha256(as_view(d), service);
  return hmac_sha256(as_view(d), "aws4_request");
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  KUMO_CHECK(ctx_ != nullptr && EVP_DigestInit_ex(ctx_, sha256_md(), nullptr) == 1);
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }

void Sha256Stream::update(std::string_view data) {
  KUMO_CHECK(EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1);
}

Digest Sha256Stream::finish() {
  Digest d{};
  unsigned int len = 0;
  KUMO_CHECK(EVP_DigestFinal_ex(ctx_, d.data(), &len) == 1);
  KUMO_CHECK(EVP_DigestInit_ex(ctx_, sha256_md(), nullptr) == 1);
  return d;
}

}  // namespace kumo::auth
