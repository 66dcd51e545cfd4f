#include "server/data_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace kumo::server {
namespace {

// The pid the holder wrote, or "unknown" while it has not written it yet.
std::string holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return "unknown";
  }
  return text;
}

}  // namespace

Result<std::unique_ptr<DataDirLock>> DataDirLock::acquire(const std::string& data_dir) {
  std::string path = data_dir + "/lock";
  // No O_TRUNC: the file may be another server's, whose pid it holds.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  }
  // A POSIX record lock, not flock(): it belongs to this process alone, so a child forked
  // between clone and exec (an instance being set up) never keeps it past this process.
  struct flock whole = {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  if (::fcntl(fd, F_SETLK, &whole) != 0) {
    int err = errno;
    std::string pid = holder_pid(fd);
    ::close(fd);
    if (err == EACCES || err == EAGAIN) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("data directory {} is in use by another kumo server "
                                    "(pid {}); stop it or pass another --data",
                                    data_dir, pid));
    }
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot lock {}: {}", path, std::strerror(err)));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  // The lock holds even if this fails; a refused server then names the pid as unknown.
  if (::ftruncate(fd, 0) == 0) {
    ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)n;
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() { ::close(fd_); }

}  // namespace kumo::server
