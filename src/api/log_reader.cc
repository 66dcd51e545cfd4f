#include "api/log_reader.h"

#include <algorithm>
#include <fstream>

namespace kumo::api {

LogTail read_log_tail(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  // Read backwards in blocks until enough newlines are seen.
  constexpr uint64_t kBlock = 64 * 1024;
  std::string buf;
  uint64_t pos = size;
  while (pos > 0 && std::count(buf.begin(), buf.end(), '\n') <= lines) {
    uint64_t step = std::min(kBlock, pos);
    pos -= step;
    std::string block(step, '\0');
    in.seekg(static_cast<std::streamoff>(pos));
    in.read(block.data(), static_cast<std::streamsize>(step));
    buf.insert(0, block);
  }
  // Keep only whole lines: the file may end mid-line while a writer appends.
  size_t last_nl = buf.rfind('\n');
  uint64_t end = pos + (last_nl == std::string::npos ? 0 : last_nl + 1);
  buf.resize(last_nl == std::string::npos ? 0 : last_nl + 1);
  if (lines <= 0) return LogTail{"", end};
  // Walk back over `lines` line starts.
  size_t start = buf.size();
  int seen = 0;
  while (start > 0) {
    if (buf[start - 1] == '\n' && start != buf.size() && ++seen == lines) break;
    --start;
  }
  return LogTail{buf.substr(start), end};
}

std::string read_log_from(const std::string& path, uint64_t& offset) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  if (size < offset) offset = 0;  // truncated or replaced: start over
  if (size == offset) return {};
  std::string data(size - offset, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  size_t last_nl = data.rfind('\n');
  if (last_nl == std::string::npos) return {};
  data.resize(last_nl + 1);
  offset += data.size();
  return data;
}

}  // namespace kumo::api
