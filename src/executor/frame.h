// The control-channel frames between the executor and a runtime shim (src/runtimes/README.md
// documents the protocol): a 13-byte big-endian header (type u8, slot u32, meta length u32,
// body length u32), then meta (JSON text) and body (bytes).
// FrameReader is a plain value, not thread-safe: one reader per channel, on one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kumo::executor {

enum class FrameType : uint8_t {
  kInvoke = 1,       // kumo -> shim: meta {request_id, deadline_ms, attempt}, body = event
  kReady = 2,        // shim -> kumo: init done
  kInitError = 3,    // meta {type, message}
  kResult = 4,       // meta {content_type}, body = result
  kError = 5,        // meta {type, message}
  kStreamStart = 6,  // meta {content_type}
  kChunk = 7,        // body = one chunk
  kStreamEnd = 8,
  kOom = 9,          // MemoryError: the shim exits right after
  kStart = 10,       // kumo -> shim: the process is in its cgroups; import the handler
};

inline constexpr size_t kFrameHeaderSize = 13;
// A frame larger than this is a protocol violation (the shim is killed).
inline constexpr uint32_t kMaxFramePart = 1u << 30;

struct Frame {
  FrameType type = FrameType::kReady;
  uint32_t slot = 0;
  std::string meta;
  std::string body;
  // Set when the body was over the reader's limit: `body` is empty, this is the size the
  // header announced, and the reader skips those bytes as they arrive.
  std::optional<uint32_t> dropped_body;
};

std::string encode_frame(FrameType type, uint32_t slot, std::string_view meta,
                         std::string_view body);

class FrameReader {
 public:
  // A body above `max_body` is never held: its frame comes back as soon as its meta is in,
  // with `dropped_body` set, and its bytes are discarded as they arrive. Meta above
  // `max_body` makes the reader corrupt.
  explicit FrameReader(size_t max_body = kMaxFramePart) : max_body_(max_body) {}
  void append(std::string_view bytes);
  // The next complete frame, if the buffer holds one.
  std::optional<Frame> next();
  // True once a header announced a part above kMaxFramePart (or meta above max_body).
  bool corrupt() const { return corrupt_; }
  // Bytes held: what was appended and not yet returned in a frame.
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  void consume(size_t n);

  size_t max_body_;
  std::string buffer_;
  size_t offset_ = 0;  // start of the unread part of buffer_
  size_t skip_ = 0;    // bytes of a dropped body still to discard
  bool corrupt_ = false;
};

}  // namespace kumo::executor
