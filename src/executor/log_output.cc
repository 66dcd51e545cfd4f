#include "executor/log_output.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

namespace kumo::executor {
namespace {

constexpr char kTagStart = '\x1e';
constexpr char kTagEnd = '\x1f';

}  // namespace

void LineSplitter::emit(std::string_view raw, const std::function<void(const LogLine&)>& on_line) {
  if (!raw.empty() && raw.back() == '\r') {
    raw.remove_suffix(1);
  }
  LogLine line{{}, raw};
  if (!raw.empty() && raw.front() == kTagStart) {
    size_t end = raw.find(kTagEnd);
    if (end != std::string_view::npos) {
      line.request_id = raw.substr(1, end - 1);
      line.text = raw.substr(end + 1);
    }
  }
  on_line(line);
}

void LineSplitter::feed(std::string_view bytes,
                        const std::function<void(const LogLine&)>& on_line) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      if (partial_.size() >= kMaxLine) {
        emit(partial_, on_line);
        partial_.clear();
      }
      return;
    }
    if (partial_.empty()) {
      emit(bytes.substr(0, nl), on_line);
    } else {
      partial_.append(bytes.substr(0, nl));
      emit(partial_, on_line);
      partial_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

void LineSplitter::finish(const std::function<void(const LogLine&)>& on_line) {
  if (!partial_.empty()) {
    emit(partial_, on_line);
    partial_.clear();
  }
}

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

Result<LogFile> LogFile::open(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot open log file {}: {}", path, std::strerror(errno)));
  }
  LogFile file;
  file.fd_.reset(fd);
  return file;
}

void LogFile::add(std::string_view timestamp, std::string_view request_id,
                  std::string_view stream, std::string_view text) {
  batch_.append(timestamp).append(" ");
  batch_.append(request_id.empty() ? std::string_view("-") : request_id).append(" ");
  batch_.append(stream).append(" ").append(text).append("\n");
}

void LogFile::flush() {
  if (batch_.empty() || !fd_.valid()) {
    batch_.clear();
    return;
  }
  // With O_APPEND one write() lands as a unit, so lines of instances sharing the file do
  // not interleave; a short write (disk full) drops the rest rather than blocking the reader.
  ssize_t n = ::write(fd_.get(), batch_.data(), batch_.size());
  (void)n;
  batch_.clear();
}

}  // namespace kumo::executor
