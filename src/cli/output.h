// Output helpers for the `kumo` CLI: aligned tables, human units and terminal colours.
//
// Everything here is pure formatting (no I/O besides the isatty probe in Style::detect),
// so it is unit-tested directly. Values are plain; all functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kumo::cli {

// Colours are applied only when the stream is a terminal and NO_COLOR is unset, so
// scripts and pipes always see plain text.
struct Style {
  bool enabled = false;

  static Style detect(int fd);  // fd: 1 for stdout, 2 for stderr

  std::string bold(std::string_view s) const;
  std::string dim(std::string_view s) const;
  std::string red(std::string_view s) const;
  std::string green(std::string_view s) const;
  std::string yellow(std::string_view s) const;
};

enum class Align { kLeft, kRight };

// A text table: a header row and data rows, columns padded to their widest cell and
// separated by two spaces. Numeric columns are right-aligned by passing kRight.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<Align> align = {});

  void add_row(std::vector<std::string> cells);
  // Each line ends with '\n'; no trailing spaces. The header is bold when style allows.
  std::string render(const Style& style = {}) const;

 private:
  std::vector<std::string> header_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

// Columns a string takes on a terminal: UTF-8 code points (so "µs" is 2 wide).
size_t display_width(std::string_view s);

// "512 B", "12.4 kB", "3.2 MB", "1.1 GB" (decimal units, as package sizes are shown).
std::string format_bytes(uint64_t bytes);

// "512 MB", "10 GB": a memory size given in MB, as kumo.yaml writes it.
std::string format_memory_mb(int64_t mb);

// "0.42 ms", "12 ms", "1.50 s", "2m 5s": a duration in (possibly fractional) milliseconds.
std::string format_ms(double ms);

// "$0.000123", "$0.0457", "$12.34"; "$0" for zero. Small costs keep 3 significant digits,
// because per-invocation costs are fractions of a cent.
std::string format_usd(double usd);

// A plain number with up to 3 significant digits after the point: "12.5", "0.0031", "0".
std::string format_decimal(double value);

// "just now", "45s ago", "5m ago", "3h ago", "2d ago"; older than 30 days: the UTC date.
std::string format_relative(int64_t then_us, int64_t now_us);

// "2026-11-26 10:00:00 UTC".
std::string format_utc(int64_t unix_us);

}  // namespace kumo::cli
