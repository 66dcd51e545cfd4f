#include "storage/checksums.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>

#include "common/check.h"

namespace kumo::storage {

struct Digests::Md5 {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Md5() { EVP_MD_CTX_free(ctx); }
};

Digests::Digests() : md5_(std::make_unique<Md5>()) {
  KUMO_CHECK(md5_->ctx != nullptr && EVP_DigestInit_ex(md5_->ctx, EVP_md5(), nullptr) == 1);
}

Digests::~Digests() = default;

void Digests::update(std::string_view data) {
  KUMO_CHECK(EVP_DigestUpdate(md5_->ctx, data.data(), data.size()) == 1);
  crc_ = crc32_update(crc_, data);
}

std::string Digests::md5() const {
  // Finalize a copy, so more data may still be fed.
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  KUMO_CHECK(copy != nullptr && EVP_MD_CTX_copy_ex(copy, md5_->ctx) == 1);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  KUMO_CHECK(EVP_DigestFinal_ex(copy, out, &len) == 1);
  EVP_MD_CTX_free(copy);
  return std::string(reinterpret_cast<char*>(out), len);
}

BodyDigest digest_of(std::string_view data) {
  Digests d;
  d.update(data);
  return {to_hex(d.md5()), crc32_base64(d.crc32())};
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 15]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = value(hex[i]);
    int lo = value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string crc32_base64(uint32_t crc) {
  const char bytes[4] = {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16),
                         static_cast<char>(crc >> 8), static_cast<char>(crc)};
  return base64_encode(std::string_view(bytes, 4));
}

uint32_t crc32_update(uint32_t crc, std::string_view data) {
  // zlib takes uInt lengths; feed large bodies in pieces.
  constexpr size_t kStep = 1u << 30;
  uLong value = crc;
  for (size_t pos = 0; pos < data.size(); pos += kStep) {
    size_t n = std::min(kStep, data.size() - pos);
    value = ::crc32(value, reinterpret_cast<const Bytef*>(data.data() + pos), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(value);
}

std::string md5_raw(std::string_view data) {
  Digests d;
  d.update(data);
  return d.md5();
}

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  KUMO_CHECK(EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) == 1);
  return to_hex(std::string_view(reinterpret_cast<char*>(out), len));
}

}  // namespace kumo::storage
