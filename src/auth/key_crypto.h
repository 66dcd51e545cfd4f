// The cryptographic pieces of keys: random ids and secrets from OpenSSL's RAND_bytes, the
// salted SHA-256 of a secret, a constant-time comparison, hex. Stateless and thread-safe.
// Used by keys.cc only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kumo::auth {

inline constexpr std::string_view kTokenPrefix = "kumo_";
inline constexpr std::string_view kIdPrefix = "kk_";
inline constexpr size_t kIdLength = 3 + 16;  // "kk_" + 16 of a-z0-9 (82 bits)
inline constexpr size_t kSecretLength = 43;  // of a-z A-Z 0-9: 43 * log2(62) > 256 bits
inline constexpr size_t kSaltBytes = 16;

// n bytes from a CSPRNG; aborts if OpenSSL cannot give them (nothing safe to do instead).
std::string random_bytes(size_t n);
std::string new_key_id();
std::string new_secret();
bool is_key_id(std::string_view id);
bool is_secret(std::string_view secret);

// The raw 32 bytes of SHA-256(salt || secret).
std::string salted_hash(std::string_view salt, std::string_view secret);
// Equal sizes and bytes, in time that depends only on the size.
bool same_bytes(std::string_view a, std::string_view b);

std::string to_hex(std::string_view bytes);
// Empty for text that is not hex of even length.
std::string from_hex(std::string_view hex);

}  // namespace kumo::auth
