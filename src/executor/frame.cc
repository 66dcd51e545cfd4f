#include "executor/frame.h"

#include <algorithm>

namespace kumo::executor {
namespace {

void put_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get_u32(const char* p) {
  auto b = [p](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

}  // namespace

std::string encode_frame(FrameType type, uint32_t slot, std::string_view meta,
                         std::string_view body) {
  std::string out;
  out.reserve(kFrameHeaderSize + meta.size() + body.size());
  out.push_back(static_cast<char>(type));
  put_u32(out, slot);
  put_u32(out, static_cast<uint32_t>(meta.size()));
  put_u32(out, static_cast<uint32_t>(body.size()));
  out.append(meta);
  out.append(body);
  return out;
}

void FrameReader::append(std::string_view bytes) {
  size_t skipped = std::min(skip_, bytes.size());
  skip_ -= skipped;
  buffer_.append(bytes.substr(skipped));
}

std::optional<Frame> FrameReader::next() {
  if (corrupt_ || buffer_.size() - offset_ < kFrameHeaderSize) {
    return std::nullopt;
  }
  const char* p = buffer_.data() + offset_;
  uint32_t meta_len = get_u32(p + 5);
  uint32_t body_len = get_u32(p + 9);
  if (meta_len > kMaxFramePart || body_len > kMaxFramePart || meta_len > max_body_) {
    corrupt_ = true;
    return std::nullopt;
  }
  bool drop = body_len > max_body_;
  size_t kept = kFrameHeaderSize + meta_len + (drop ? 0 : body_len);
  if (buffer_.size() - offset_ < kept) {
    return std::nullopt;
  }
  Frame frame;
  frame.type = static_cast<FrameType>(static_cast<unsigned char>(p[0]));
  frame.slot = get_u32(p + 1);
  frame.meta.assign(p + kFrameHeaderSize, meta_len);
  if (drop) {
    frame.dropped_body = body_len;
  } else {
    frame.body.assign(p + kFrameHeaderSize + meta_len, body_len);
  }
  consume(kept);
  if (drop) {
    size_t here = std::min<size_t>(body_len, buffer_.size() - offset_);
    consume(here);
    skip_ = body_len - here;
  }
  return frame;
}

void FrameReader::consume(size_t n) {
  offset_ += n;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > (1u << 20)) {  // compact now and then, not on every frame
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
}

}  // namespace kumo::executor
