#include "auth/admin_key.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "auth/key_crypto.h"

namespace kumo::auth {
namespace {

Error io_error(std::string_view what, const std::string& path) {
  return make_error(ErrorCode::kInternal,
                    fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)));
}

// Writes `text` to a new 0600 file at `path` (which must not exist) and syncs it.
Result<void> write_private(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create", path);
  // The umask may only have narrowed 0600; fchmod makes it exactly that.
  bool ok = ::fchmod(fd, 0600) == 0;
  while (ok && !text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) text.remove_prefix(static_cast<size_t>(n));
  }
  ok = ok && ::fsync(fd) == 0;
  Error e = ok ? Error{} : io_error("write", path);
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return e;
  }
  return {};
}

Result<std::string> write_token(const std::string& data_dir, const std::string& token) {
  std::string path = data_dir + "/" + kAdminKeyFile;
  std::string partial = fmt::format("{}.tmp-{}", path, to_hex(random_bytes(8)));
  if (auto r = write_private(partial, token + "\n"); !r) return r.error();
  if (::rename(partial.c_str(), path.c_str()) != 0) {
    Error e = io_error("rename into place", path);
    ::unlink(partial.c_str());
    return e;
  }
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
