// S3Error: an S3 error code ("NoSuchKey") with its message, and S3Result<T>, what the object
// store returns. The HTTP status comes from the code (s3_status), so the store never thinks
// in statuses. Values; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace kumo::storage {

struct S3Error {
  std::string code;     // S3's error code, e.g. "NoSuchBucket"
  std::string message;  // what happened and, where it helps, what to do
};

template <typename T>
class [[nodiscard]] S3Result : public tl::expected<T, S3Error> {
 public:
  using tl::expected<T, S3Error>::expected;
  S3Result(S3Error e) : tl::expected<T, S3Error>(tl::unexpect, std::move(e)) {}  // NOLINT
};

template <>
class [[nodiscard]] S3Result<void> : public tl::expected<void, S3Error> {
 public:
  using tl::expected<void, S3Error>::expected;
  S3Result() = default;
  S3Result(S3Error e) : tl::expected<void, S3Error>(tl::unexpect, std::move(e)) {}  // NOLINT
};

inline S3Error s3_error(std::string code, std::string message) {
  return S3Error{std::move(code), std::move(message)};
}

// The HTTP status S3 answers `code` with; 500 for a code it does not know.
int s3_status(std::string_view code);

// For I/O failures of the server itself.
S3Error internal_error(std::string_view what);

}  // namespace kumo::storage
