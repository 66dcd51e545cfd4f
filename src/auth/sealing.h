// SealingKey: the server's key for secrets it must be able to read back, such as the secrets
// of API keys that sign AWS SigV4 requests (SigV4 is symmetric: checking a signature needs the
// secret itself, while the salted hash in auth_keys only checks a Bearer token).
//
// A sealed value is AES-256-GCM (OpenSSL EVP) under the 32-byte key, with a fresh 96-bit
// nonce and the caller's `context` (a key id) as additional data, so a sealed value copied
// to another row or altered by one bit does not open. It is written as
// "v1:" + hex(nonce || ciphertext || tag).
//
// The key lives in <data>/server.key (32 raw bytes, mode 0600 from its creation), made on
// the first start. Losing the file loses every sealed secret (those keys then cannot sign
// SigV4; Bearer use is unaffected). Immutable once made; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::auth {

inline constexpr const char* kSealingKeyFile = "server.key";

class SealingKey {
 public:
  static constexpr size_t kBytes = 32;

  // Reads <data_dir>/server.key, making it (32 random bytes, 0600) when there is none.
  // kInternal when it cannot be read or written, or is not exactly 32 bytes.
  static Result<SealingKey> load_or_create(const std::string& data_dir);
  // A random key that is never written (tests).
  static SealingKey generate();
  // kInvalidArgument unless `raw` is 32 bytes.
  static Result<SealingKey> from_bytes(std::string_view raw);

  std::string seal(std::string_view plaintext, std::string_view context) const;
  // kPermissionDenied when `sealed` is malformed, was sealed under another key or context,
  // or was altered.
  Result<std::string> open(std::string_view sealed, std::string_view context) const;

 private:
  explicit SealingKey(std::string raw) : raw_(std::move(raw)) {}
  std::string raw_;
};

}  // namespace kumo::auth
