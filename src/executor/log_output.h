// Capture of an instance's stdout/stderr into the function's log file.
//
// LineSplitter cuts a pipe's byte stream into lines and reads the request-id tag the python
// shim puts in front of each line ("\x1e<request_id>\x1f<text>"). LogFile appends formatted
// lines ("<RFC3339 UTC ms> <request_id|-> <stdout|stderr> <text>") with O_APPEND and one
// write() per batch, so instances sharing a file never interleave within a line.
// Both are owned by one instance and used from its I/O thread only (not thread-safe).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "executor/unique_fd.h"

namespace kumo::executor {

struct LogLine {
  std::string_view request_id;  // empty when the line carries no tag
  std::string_view text;
};

class LineSplitter {
 public:
  // Lines longer than this are cut into pieces (a runaway line must not grow memory).
  static constexpr size_t kMaxLine = 64 * 1024;

  // Feeds bytes; calls `on_line` for each complete line.
  void feed(std::string_view bytes, const std::function<void(const LogLine&)>& on_line);
  // Emits the unterminated rest, if any (at end of stream).
  void finish(const std::function<void(const LogLine&)>& on_line);

 private:
  void emit(std::string_view raw, const std::function<void(const LogLine&)>& on_line);
  std::string partial_;
};

// "2024-05-01T12:00:00.123Z" for the current time.
std::string rfc3339_now();

class LogFile {
 public:
  // Opens (creating it and its folder if needed) `path` for appending.
  static Result<LogFile> open(const std::string& path);
  LogFile() = default;

  // Adds one formatted line to the pending batch.
  void add(std::string_view timestamp, std::string_view request_id, std::string_view stream,
           std::string_view text);
  // Writes the pending batch with one write().
  void flush();

 private:
  UniqueFd fd_;
  std::string batch_;
};

}  // namespace kumo::executor
