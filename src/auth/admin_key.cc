#include "auth/admin_key.h"

#include "auth/private_file.h"

namespace kumo::auth {
namespace {

Result<std::string> write_token(const std::string& data_dir, const std::string& token) {
  std::string path = data_dir + "/" + kAdminKeyFile;
  if (auto r = write_private_file(path, token + "\n", /*replace=*/true); !r) return r.error();
  return path;
}

}  // namespace

Result<std::optional<std::string>> ensure_admin_key(KeyStore& keys, const std::string& data_dir,
                                                    int64_t now_us) {
  KeySpec spec{
      "admin", "", {Grant{Verb::kAdmin, false, ResourceKind::kFunction, ""}}, std::nullopt};
  auto made = keys.create_if_empty(spec, now_us);
  if (!made) return made.error();
  if (!*made) return std::optional<std::string>();
  auto path = write_token(data_dir, (*made)->token);
  if (!path) {
    if (auto r = keys.erase((*made)->record.id); !r) {
      return make_error(
          ErrorCode::kInternal,
          path.error().message + "; and the key it was for remains: " + r.error().message);
    }
    return path.error();
  }
  return std::optional<std::string>(std::move(*path));
}

}  // namespace kumo::auth
