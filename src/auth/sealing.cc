#include "auth/sealing.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "auth/key_crypto.h"
#include "auth/private_file.h"
#include "common/check.h"

namespace kumo::auth {
namespace {

constexpr std::string_view kVersion = "v1:";
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx new_ctx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  KUMO_CHECK(ctx != nullptr);
  return ctx;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Error refused(std::string_view why) {
  return make_error(ErrorCode::kPermissionDenied, fmt::format("sealed secret refused: {}", why));
}

Result<std::string> read_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

Result<SealingKey> SealingKey::from_bytes(std::string_view raw) {
  if (raw.size() != kBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("a sealing key is {} bytes, got {}", kBytes, raw.size()));
  }
  return SealingKey(std::string(raw));
}

SealingKey SealingKey::generate() { return SealingKey(random_bytes(kBytes)); }

Result<SealingKey> SealingKey::load_or_create(const std::string& data_dir) {
  std::string path = data_dir + "/" + kSealingKeyFile;
  auto made = write_private_file(path, random_bytes(kBytes), /*replace=*/false);
  if (!made && made.error().code != ErrorCode::kConflict) return made.error();
  auto raw = read_key_file(path);
  if (!raw) return raw.error();
  auto key = from_bytes(*raw);
  if (!key) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("{} is damaged ({}); restore it from a backup: the secrets "
                                  "sealed under it cannot be read without it",
                                  path, key.error().message));
  }
  return key;
}

std::string SealingKey::seal(std::string_view plaintext, std::string_view context) const {
  std::string nonce = random_bytes(kNonceBytes);
  std::string out(plaintext.size(), '\0');
  std::string tag(kTagBytes, '\0');
  CipherCtx ctx = new_ctx();
  int len = 0;
  int n = static_cast<int>(plaintext.size());
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(raw_), bytes(nonce)) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(context),
                              static_cast<int>(context.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), bytes(out), &len, bytes(plaintext), n) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), bytes(out) + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag.data()) == 1;
  KUMO_CHECK(ok);
  return std::string(kVersion) + to_hex(nonce + out + tag);
}

Result<std::string> SealingKey::open(std::string_view sealed, std::string_view context) const {
  if (!sealed.starts_with(kVersion)) return refused("unknown format");
  std::string raw = from_hex(sealed.substr(kVersion.size()));
  if (raw.size() < kNonceBytes + kTagBytes) return refused("too short");
  std::string_view all(raw);
  std::string_view nonce = all.substr(0, kNonceBytes);
  std::string_view cipher = all.substr(kNonceBytes, all.size() - kNonceBytes - kTagBytes);
  std::string tag(all.substr(all.size() - kTagBytes));
  std::string out(cipher.size(), '\0');
  CipherCtx ctx = new_ctx();
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(raw_), bytes(nonce)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(context),
                              static_cast<int>(context.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), bytes(out), &len, bytes(cipher),
                              static_cast<int>(cipher.size())) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), bytes(out) + len, &len) == 1;
  if (!ok) return refused("it does not open under this server's key (altered, or another key's)");
  return out;
}

}  // namespace kumo::auth
