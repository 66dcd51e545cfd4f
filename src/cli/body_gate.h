// BodyGate: lets a streamed reply body through to the user as it arrives, except a body
// that may be the server's {"error": ...} reply, which is held back until the status is
// known (http::Client::stream reports the status only after the body).
//
// Error replies are small JSON documents sent whole, so holding back only bodies that
// begin with {"error" delays nothing else: a streamed function's chunks go out at once.
// A function whose successful result itself begins with {"error" is printed at the end.
// Not thread-safe; one per reply.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace kumo::cli {

class BodyGate {
 public:
  using Sink = std::function<void(std::string_view)>;
  explicit BodyGate(Sink out);

  void feed(std::string_view chunk);

  // Call once after the reply. On success, flushes anything held back to the sink and
  // returns "". On failure, returns the held-back body (the error JSON) unprinted, or ""
  // when the body had already gone out.
  std::string finish(bool success);

 private:
  Sink out_;
  std::string held_;
  bool holding_ = true;  // until the body can no longer be an error reply
};

}  // namespace kumo::cli
