#include "storage/file_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/ids.h"

namespace kumo::storage {
namespace {

S3Error io_error(std::string_view what, const std::string& path) {
  return internal_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

S3Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

S3Result<void> sync_dir(const std::string& dir) {
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0) return io_error("cannot sync the folder", dir);
  return {};
}

// Opens a new temp file in `dir`, runs `fill` on it, syncs, and renames it to `name`.
template <typename Fill>
S3Result<void> replace_with(const std::string& dir, const std::string& name, Fill fill) {
  std::string temp = fmt::format("{}/{}{}", dir, kTempPrefix, new_short_id());
  Fd f{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
  if (f.fd < 0) return io_error("cannot create", temp);
  S3Result<void> filled = fill(f.fd, temp);
  if (filled && ::fsync(f.fd) != 0) filled = io_error("cannot sync", temp);
  if (filled && ::rename(temp.c_str(), (dir + "/" + name).c_str()) != 0) {
    filled = io_error("cannot rename", temp);
  }
  if (!filled) {
    ::unlink(temp.c_str());
    return filled;
  }
  return sync_dir(dir);
}

}  // namespace

S3Result<void> write_atomic(const std::string& dir, const std::string& name,
                            std::string_view data) {
  return replace_with(dir, name,
                      [&](int fd, const std::string& path) { return write_all(fd, data, path); });
}

S3Result<void> write_atomic_from(const std::string& dir, const std::string& name,
                                 const std::function<S3Result<void>(const ByteSink&)>& produce) {
  return replace_with(dir, name, [&](int fd, const std::string& path) {
    return produce([fd, &path](std::string_view data) { return write_all(fd, data, path); });
  });
}

S3Result<void> concat_atomic(const std::string& dir, const std::string& name,
                             const std::vector<std::string>& sources, Digests& digests) {
  return replace_with(dir, name, [&](int fd, const std::string& path) -> S3Result<void> {
    std::string buffer(1 << 20, '\0');
    for (const auto& source : sources) {
      Fd in{::open(source.c_str(), O_RDONLY | O_CLOEXEC)};
      if (in.fd < 0) return io_error("cannot open", source);
      while (true) {
        ssize_t n = ::read(in.fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return io_error("cannot read", source);
        if (n == 0) break;
        std::string_view piece(buffer.data(), static_cast<size_t>(n));
        digests.update(piece);
        if (auto w = write_all(fd, piece, path); !w) return w;
      }
    }
    return {};
  });
}

S3Result<ReadFile> ReadFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  return ReadFile(fd, path);
}

ReadFile::~ReadFile() {
  if (fd_ >= 0) ::close(fd_);
}

S3Result<std::string> ReadFile::read(int64_t offset, int64_t length) const {
  std::string out(static_cast<size_t>(length), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path_);
    if (n == 0) return internal_error(fmt::format("{} is shorter than its recorded size", path_));
    done += static_cast<size_t>(n);
  }
  return out;
}

void remove_quietly(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("storage: cannot remove {}: {}", path, std::strerror(errno));
  }
}

}  // namespace kumo::storage
