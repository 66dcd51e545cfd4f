// Reading a function's log file: its last lines, and following it as it grows.
// Pure file I/O; thread-safe (each call opens the file itself).
#pragma once

#include <cstdint>
#include <string>

namespace kumo::api {

struct LogTail {
  std::string text;    // the last lines, each ending in '\n'
  uint64_t end = 0;    // the file offset after them, where a follower continues
};

// The last `lines` lines of the file (empty when it doesn't exist yet).
LogTail read_log_tail(const std::string& path, int lines);

// What was appended since `offset`; advances offset. Empty when nothing new.
std::string read_log_from(const std::string& path, uint64_t& offset);

}  // namespace kumo::api
