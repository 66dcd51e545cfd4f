// The object store's file operations: atomic writes (temp file in the same folder, fsync,
// rename, fsync of the folder), concatenation of parts, and ranged reads. Errors come back
// as S3 InternalError with the path and errno text. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/checksums.h"
#include "storage/s3_error.h"

namespace kumo::storage {

// Prefix of temporary files; whatever carries it after a crash is removed at startup.
inline constexpr std::string_view kTempPrefix = ".tmp-";

// Writes `data` to dir/name so that the name shows either nothing or all of it.
S3Result<void> write_atomic(const std::string& dir, const std::string& name, std::string_view data);

// Takes bytes in order; an error stops whoever produces them.
using ByteSink = std::function<S3Result<void>(std::string_view)>;
// Writes what `produce` passes to its sink to dir/name, atomically: the name shows nothing
// when `produce` (or a write) fails, and the temporary file is removed.
S3Result<void> write_atomic_from(const std::string& dir, const std::string& name,
                                 const std::function<S3Result<void>(const ByteSink&)>& produce);

// Writes the concatenation of `sources` to dir/name, atomically, feeding every byte to
// `digests` on the way.
S3Result<void> concat_atomic(const std::string& dir, const std::string& name,
                             const std::vector<std::string>& sources, Digests& digests);

// An open file for reading; closes on destruction. Move-only.
class ReadFile {
 public:
  static S3Result<ReadFile> open(const std::string& path);
  ReadFile(ReadFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
  }
  ReadFile& operator=(ReadFile&&) = delete;
  ~ReadFile();
  // Reads `length` bytes at `offset`; InternalError when the file is shorter.
  S3Result<std::string> read(int64_t offset, int64_t length) const;

 private:
  ReadFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Removes a file, logging (not failing) when it cannot.
void remove_quietly(const std::string& path);

}  // namespace kumo::storage
