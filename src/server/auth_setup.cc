#include "server/auth_setup.h"

#include <filesystem>

#include <fmt/format.h>

#include "auth/admin_key.h"
#include "common/log.h"

namespace kumo::server {

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

Result<std::unique_ptr<auth::KeyStore>> open_auth(const std::string& mode,
                                                  const std::string& data_dir,
                                                  const std::string& listen_host) {
  if (mode == kAuthNone) {
    if (!is_loopback_host(listen_host)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("--auth none is for a server on loopback only, and this one "
                                    "listens on {}: anyone who reaches it could run code here",
                                    listen_host));
    }
    spdlog::warn("authentication is off (--auth none): every local user and process can deploy, "
                 "invoke and read everything");
    return std::unique_ptr<auth::KeyStore>();
  }
  if (mode != kAuthKeys) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("--auth '{}': use keys or none", mode));
  }
  // The key that seals API keys' secrets, so they can sign AWS SigV4 requests.
  auto sealing = auth::SealingKey::load_or_create(data_dir);
  if (!sealing) return sealing.error();
  auto keys = auth::KeyStore::open(data_dir + "/kumo.db", std::move(*sealing));
  if (!keys) return keys.error();
  auto made = auth::ensure_admin_key(**keys, data_dir);
  if (!made) return made.error();
  std::string path = data_dir + "/" + auth::kAdminKeyFile;
  if (*made) {
    spdlog::info("made the operator's admin key; it is in {} (readable by this user only)", path);
  } else if (std::error_code ec; std::filesystem::exists(path, ec)) {
    spdlog::info("the operator's admin key is in {}", path);
  }
  return std::move(*keys);
}

}  // namespace kumo::server
