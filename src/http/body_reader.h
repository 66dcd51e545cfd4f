// BodyReader: the body of a request on a route added with Router::add_streaming(), pulled in
// pieces as it arrives instead of read whole before the handler runs, so that a large upload
// goes to disk without ever sitting in memory.
//
// The connection reads the next piece (at most kBodyPiece bytes) only after the last one was
// taken, so a reader holds one piece at a time and a consumer that stops reading stops the
// client through TCP's flow control. Past the route's limit read() fails with kTooLarge
// and no more is read. A handler that answers before the end of the body is fine: the
// connection then closes after the answer (what the client still sends is dropped).
//
// Thread-safety: read() blocks, so call it from a worker thread, never from the server's
// I/O thread; one consumer at a time. Beast-free.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "common/result.h"

namespace kumo::http {

inline constexpr size_t kBodyPiece = 256 * 1024;
// read() gives up (kTimeout, and the connection closes) when no byte came for this long.
inline constexpr std::chrono::seconds kBodyPieceTimeout{60};

class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // The next piece of the body; an empty string once it has all been read. kTooLarge past
  // the route's limit, kInvalidArgument for a malformed (chunked) body, kUnavailable when
  // the client went away, kTimeout after kBodyPieceTimeout without data.
  virtual Result<std::string> read() = 0;
};

}  // namespace kumo::http
