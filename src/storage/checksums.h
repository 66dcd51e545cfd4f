// Digests the S3 protocol carries: MD5 (ETags, Content-MD5), CRC32 (x-amz-checksum-crc32)
// and SHA-256 (x-amz-content-sha256), plus base64 and hex. Backed by OpenSSL and zlib.
// A Digests is used by one thread; the free functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base64.h"  // base64_encode, base64_decode

namespace kumo::storage {

// MD5 and CRC32 of one byte stream, fed in pieces.
class Digests {
 public:
  Digests();
  ~Digests();
  Digests(const Digests&) = delete;
  Digests& operator=(const Digests&) = delete;

  void update(std::string_view data);
  // The raw 16 bytes of the MD5 of everything fed so far.
  std::string md5() const;
  uint32_t crc32() const { return crc_; }

 private:
  struct Md5;
  std::unique_ptr<Md5> md5_;
  uint32_t crc_ = 0;
};

// The digests of a whole body.
struct BodyDigest {
  std::string md5_hex;       // lower-case hex, unquoted: the ETag of a single-part object
  std::string crc32_base64;  // base64 of the big-endian 4 bytes, as S3 sends it
};
BodyDigest digest_of(std::string_view data);

std::string to_hex(std::string_view bytes);
// nullopt unless `hex` is an even number of hex digits.
std::optional<std::string> from_hex(std::string_view hex);
// Base64 of a CRC32 value in network byte order.
std::string crc32_base64(uint32_t crc);
// CRC32 (zlib's) of `data`, continuing from `crc` (0 to start).
uint32_t crc32_update(uint32_t crc, std::string_view data);
std::string md5_raw(std::string_view data);
std::string sha256_hex(std::string_view data);

}  // namespace kumo::storage
