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
};

std::string encode_frame(FrameType type, uint32_t slot, std::string_view meta,
                         std::string_view body);

class FrameReader {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame, if the buffer holds one.
  std::optional<Frame> next();
  // True once a header announced a part above kMaxFramePart.
  bool corrupt() const { return corrupt_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;  // start of the unread part of buffer_
  bool corrupt_ = false;
};

}  // namespace kumo::executor
