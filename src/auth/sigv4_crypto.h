// The hashing behind SigV4: SHA-256, HMAC-SHA256, lower-case hex, the signing-key chain and a
// constant-time comparison. Thin wrappers over OpenSSL's libcrypto; pure functions, so
// thread-safe. Used by sigv4.cc only; other parts go through sigv4.h.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace kumo::auth {

using Digest = std::array<uint8_t, 32>;

Digest sha256(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view data);
std::string hex(const Digest& d);
std::string sha256_hex(std::string_view data);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
Digest signing_key(std::string_view secret, std::string_view date, std::string_view region,
                   std::string_view service);

// Equal length and bytes, in time that depends only on the length.
bool constant_time_equal(std::string_view a, std::string_view b);

inline std::string_view as_view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Incremental SHA-256, for chunk data that arrives in pieces. One owner, one thread.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void update(std::string_view data);
  // The digest of everything since construction or the last finish(); starts afresh.
  Digest finish();

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace kumo::auth
