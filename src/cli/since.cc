#include "cli/since.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>

namespace kumo::cli {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

Error bad_since(std::string_view text) {
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("--since '{}' is neither a duration nor a date; write e.g. 30m, "
                                "1h, 7d, 2026-11-26 or 2026-11-26T10:00:00Z",
                                text));
}

std::optional<int64_t> unit_seconds(std::string_view unit) {
  if (unit == "s") return 1;
  if (unit == "m") return 60;
  if (unit == "h") return 3600;
  if (unit == "d") return 86'400;
  if (unit == "w") return 7 * 86'400;
  return std::nullopt;
}

// "30m" -> 1800 s in micros; nullopt when `text` is not a duration.
std::optional<int64_t> parse_ago(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data() ||
      !std::isdigit(static_cast<unsigned char>(text[0]))) {
    return std::nullopt;
  }
  auto seconds = unit_seconds(std::string_view(end, text.data() + text.size() - end));
  if (!seconds || !std::isfinite(value) || value > 1e6) return std::nullopt;
  return static_cast<int64_t>(
      std::llround(value * static_cast<double>(*seconds) * kMicrosPerSecond));
}

// Reads exactly `digits` decimal digits at `pos`, advancing it.
std::optional<int> take_number(std::string_view text, size_t& pos, size_t digits) {
  if (pos + digits > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    char ch = text[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(ch))) return std::nullopt;
    value = value * 10 + (ch - '0');
  }
  pos += digits;
  return value;
}

bool take_char(std::string_view text, size_t& pos, char expected) {
  if (pos >= text.size() || text[pos] != expected) return false;
  ++pos;
  return true;
}

// "Z", "+02:00", "-0530" or nothing (UTC): the offset east of UTC in seconds.
std::optional<int64_t> parse_zone(std::string_view text, size_t pos) {
  if (pos == text.size()) return 0;
  if (text.substr(pos) == "Z" || text.substr(pos) == "z") return 0;
  int sign = text[pos] == '+' ? 1 : text[pos] == '-' ? -1 : 0;
  if (sign == 0) return std::nullopt;
  ++pos;
  auto hours = take_number(text, pos, 2);
  take_char(text, pos, ':');
  auto minutes = take_number(text, pos, 2);
  if (!hours || !minutes || pos != text.size() || *hours > 23 || *minutes > 59) {
    return std::nullopt;
  }
  return sign * (*hours * 3600 + *minutes * 60);
}

std::optional<int64_t> parse_date_time(std::string_view text) {
  size_t pos = 0;
  auto year = take_number(text, pos, 4);
  bool dashes = take_char(text, pos, '-');
  auto month = take_number(text, pos, 2);
  dashes = take_char(text, pos, '-') && dashes;
  auto day = take_number(text, pos, 2);
  if (!year || !month || !day || !dashes) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(*year), std::chrono::month(*month),
                                  std::chrono::day(*day)};
  if (!ymd.ok()) return std::nullopt;
  int64_t seconds = std::chrono::sys_days(ymd).time_since_epoch() / std::chrono::seconds(1);
  if (pos == text.size()) return seconds * kMicrosPerSecond;
  if (!take_char(text, pos, 'T') && !take_char(text, pos, 't') && !take_char(text, pos, ' ')) {
    return std::nullopt;
  }
  auto hour = take_number(text, pos, 2);
  bool colon = take_char(text, pos, ':');
  auto minute = take_number(text, pos, 2);
  std::optional<int> second = 0;
  if (take_char(text, pos, ':')) second = take_number(text, pos, 2);
  if (!hour || !colon || !minute || !second || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  auto zone = parse_zone(text, pos);
  if (!zone) return std::nullopt;
  seconds += *hour * 3600 + *minute * 60 + *second - *zone;
  return seconds * kMicrosPerSecond;
}

}  // namespace

Result<int64_t> parse_duration(std::string_view text, std::string_view flag) {
  if (auto us = parse_ago(text); us && *us > 0) return *us;
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("{} '{}' is not a duration; write e.g. 12h, 30d or 2w", flag,
                                text));
}

Result<int64_t> parse_since(std::string_view text, int64_t now_us) {
  if (auto ago = parse_ago(text)) return now_us - *ago;
  auto at = parse_date_time(text);
  if (!at) return bad_since(text);
  if (*at > now_us) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("--since '{}' is in the future; give a past date or a duration "
                                  "such as 1h",
                                  text));
  }
  return *at;
}

}  // namespace kumo::cli
