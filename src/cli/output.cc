#include "cli/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>

namespace kumo::cli {
namespace {

std::string wrap(bool on, std::string_view code, std::string_view s) {
  if (!on) return std::string(s);
  return fmt::format("\033[{}m{}\033[0m", code, s);
}

// Fixed notation with `digits` significant digits and no trailing zeros: 0.000123, 12.5.
std::string significant(double value, int digits) {
  if (value == 0) return "0";
  int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(value))));
  int decimals = std::clamp(digits - 1 - magnitude, 0, 12);
  std::string s = fmt::format("{:.{}f}", value, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

}  // namespace

Style Style::detect(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  bool plain = no_color != nullptr && *no_color != '\0';
  return Style{!plain && isatty(fd) == 1};
}

std::string Style::bold(std::string_view s) const { return wrap(enabled, "1", s); }
std::string Style::dim(std::string_view s) const { return wrap(enabled, "2", s); }
std::string Style::red(std::string_view s) const { return wrap(enabled, "31", s); }
std::string Style::green(std::string_view s) const { return wrap(enabled, "32", s); }
std::string Style::yellow(std::string_view s) const { return wrap(enabled, "33", s); }

Table::Table(std::vector<std::string> header, std::vector<Align> align)
    : header_(std::move(header)), align_(std::move(align)) {
  align_.resize(header_.size(), Align::kLeft);
}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render(const Style& style) const {
  std::vector<size_t> widths(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) widths[c] = display_width(header_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], display_width(row[c]));
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      std::string pad(widths[c] - display_width(cells[c]), ' ');
      if (c > 0) out += "  ";
      out += align_[c] == Align::kRight ? pad + cells[c] : cells[c] + pad;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();  // last column left-aligned
    return out;
  };
  std::string out = style.bold(line(header_)) + "\n";
  for (const auto& row : rows_) out += line(row) + "\n";
  return out;
}

size_t display_width(std::string_view s) {
  // Count bytes that start a UTF-8 code point (anything but 10xxxxxx continuations).
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes) / 1000;
  size_t unit = 0;
  while (value >= 999.95 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string format_memory_mb(int64_t mb) {
  if (mb >= 1024 && mb % 1024 == 0) return fmt::format("{} GB", mb / 1024);
  return fmt::format("{} MB", mb);
}

std::string format_ms(double ms) {
  if (ms <= 0) return "0 ms";
  if (ms < 1) return fmt::format("{:.2f} ms", ms);
  if (ms < 10) return fmt::format("{:.1f} ms", ms);
  if (ms < 999.5) return fmt::format("{:.0f} ms", ms);
  if (ms < 59'995) return fmt::format("{:.2f} s", ms / 1000);
  auto seconds = static_cast<int64_t>(std::llround(ms / 1000));
  if (seconds < 3600) return fmt::format("{}m {}s", seconds / 60, seconds % 60);
  return fmt::format("{}h {}m", seconds / 3600, seconds % 3600 / 60);
}

std::string format_usd(double usd) {
  if (usd == 0) return "$0";
  if (std::fabs(usd) >= 1) return fmt::format("${:.2f}", usd);
  return "$" + significant(usd, 3);
}

std::string format_decimal(double value) {
  if (std::fabs(value) >= 100) return fmt::format("{:.1f}", value);
  return significant(value, 3);
}

std::string format_relative(int64_t then_us, int64_t now_us) {
  int64_t seconds = (now_us - then_us) / 1'000'000;
  if (seconds < 1) return "just now";
  if (seconds < 60) return fmt::format("{}s ago", seconds);
  if (seconds < 3600) return fmt::format("{}m ago", seconds / 60);
  if (seconds < 86'400) return fmt::format("{}h ago", seconds / 3600);
  if (seconds < 30 * 86'400) return fmt::format("{}d ago", seconds / 86'400);
  return format_utc(then_us).substr(0, 10);  // the date part
}

std::string format_utc(int64_t unix_us) {
  std::time_t t = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace kumo::cli
