#include "auth/sigv4_crypto.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "common/check.h"

namespace kumo::auth {

Digest sha256(std::string_view data) {
  Digest d{};
  unsigned int len = 0;
  KUMO_CHECK(EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) == 1);
  return d;
}

Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest d{};
  unsigned int len = 0;
  KUMO_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data(),
                  &len) != nullptr);
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
  KUMO_CHECK(ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1);
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }

void Sha256Stream::update(std::string_view data) {
  KUMO_CHECK(EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1);
}

Digest Sha256Stream::finish() {
  Digest d{};
  unsigned int len = 0;
  KUMO_CHECK(EVP_DigestFinal_ex(ctx_, d.data(), &len) == 1);
  KUMO_CHECK(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1);
  return d;
}

}  // namespace kumo::auth
