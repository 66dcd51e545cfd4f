#include "auth/private_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "auth/key_crypto.h"

namespace kumo::auth {
namespace {

Error io_error(std::string_view what, const std::string& path) {
  return make_error(ErrorCode::kInternal,
                    fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)));
}

// Writes `data` to a new 0600 file at `path` (which must not exist) and syncs it.
Result<void> write_new(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create", path);
  // The umask may only have narrowed 0600; fchmod makes it exactly that.
  bool ok = ::fchmod(fd, 0600) == 0;
  while (ok && !data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) data.remove_prefix(static_cast<size_t>(n));
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

}  // namespace

Result<void> write_private_file(const std::string& path, std::string_view data, bool replace) {
  std::string partial = fmt::format("{}.tmp-{}", path, to_hex(random_bytes(8)));
  if (auto r = write_new(partial, data); !r) return r;
  Result<void> placed;
  if (replace) {
    if (::rename(partial.c_str(), path.c_str()) != 0) placed = io_error("rename into place", path);
  } else if (::link(partial.c_str(), path.c_str()) != 0) {
    placed = errno == EEXIST
                 ? make_error(ErrorCode::kConflict, fmt::format("{} exists already", path))
                 : io_error("link into place", path);
  }
  if (!placed || !replace) ::unlink(partial.c_str());
  return placed;
}

}  // namespace kumo::auth
