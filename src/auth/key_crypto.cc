#include "auth/key_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

#include "common/check.h"

namespace kumo::auth {
namespace {

constexpr std::string_view kIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kSecretAlphabet =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

// `n` characters drawn uniformly from `alphabet` (bytes past the largest multiple of its size
// are thrown away, so no character is likelier than another).
std::string random_text(std::string_view alphabet, size_t n) {
  const size_t limit = 256 - 256 % alphabet.size();
  std::string out;
  while (out.size() < n) {
    for (unsigned char b : random_bytes(n)) {
      if (b < limit && out.size() < n) out += alphabet[b % alphabet.size()];
    }
  }
  return out;
}

bool all_in(std::string_view text, std::string_view alphabet) {
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alphabet.find(c) != std::string_view::npos; });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  KUMO_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1);
  return out;
}

std::string new_key_id() { return std::string(kIdPrefix) + random_text(kIdAlphabet, 16); }

std::string new_secret() { return random_text(kSecretAlphabet, kSecretLength); }

bool is_key_id(std::string_view id) {
  return id.size() == kIdLength && id.starts_with(kIdPrefix) &&
         all_in(id.substr(kIdPrefix.size()), kIdAlphabet);
}

bool is_secret(std::string_view secret) {
  return secret.size() == kSecretLength && all_in(secret, kSecretAlphabet);
}

std::string salted_hash(std::string_view salt, std::string_view secret) {
  // Fetched once: OpenSSL 3 looks a digest up by name on every EVP_sha256() use otherwise.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  KUMO_CHECK(sha256 != nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  KUMO_CHECK(ctx != nullptr);
  bool ok = EVP_DigestInit_ex(ctx, sha256, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
            EVP_DigestUpdate(ctx, secret.data(), secret.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, digest, &size) == 1;
  EVP_MD_CTX_free(ctx);
  KUMO_CHECK(ok);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

bool same_bytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return "";
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return "";
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace kumo::auth
