// Result<T>: the return type of every operation that can fail in an expected way.
//
// An Error carries an ErrorCode (which the api layer maps to an HTTP status) and a
// message a user can act on. Result<T> is tl::expected<T, Error>, marked [[nodiscard]]
// so a dropped result is a compile error under -Werror. Values are plain and copyable;
// thread-safety is that of the contained type.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace kumo {

enum class ErrorCode {
  kInvalidArgument,   // 400: bad input, the message names the field
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kConflict,          // 409
  kTooLarge,          // 413
  kThrottled,         // 429: queue full or no instance in time
  kFunctionFailed,    // 502: the function raised, crashed or ran out of memory
  kTimeout,           // 504
  kUnavailable,       // 503: the server is shutting down or a dependency is down
  kInternal,          // 500: a bug or an I/O failure of the server itself
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// Short lower-case name of a code, as written in JSON error bodies ("not_found").
const char* error_code_name(ErrorCode code);

template <typename T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  Result(Error e) : tl::expected<T, Error>(tl::unexpect, std::move(e)) {}  // NOLINT
};

template <>
class [[nodiscard]] Result<void> : public tl::expected<void, Error> {
 public:
  using tl::expected<void, Error>::expected;
  Result() = default;
  Result(Error e) : tl::expected<void, Error>(tl::unexpect, std::move(e)) {}  // NOLINT
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace kumo
