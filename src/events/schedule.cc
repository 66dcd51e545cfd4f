#include "events/schedule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "common/units.h"

namespace kumo::events {
namespace {

using namespace std::chrono;

struct Field {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names for min.., or null
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
constexpr std::array<Field, 5> kFields = {{{"minute", 0, 59, nullptr},
                                          {"hour", 0, 23, nullptr},
                                          {"day of month", 1, 31, nullptr},
                                          {"month", 1, 12, kMonthNames},
                                          {"day of week", 0, 7, kDayNames}}};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// A number or, where the field has names, a three-letter name.
std::optional<int> value_of(std::string_view text, const Field& f) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size()) return v;
  if (f.names == nullptr || text.size() != 3) return std::nullopt;
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  int count = f.max - f.min + (f.max == 7 ? 0 : 1);  // day of week: 7 names for 0..7
  for (int i = 0; i < count; ++i) {
    if (upper == f.names[i]) return f.min + i;
  }
  return std::nullopt;
}

// Sets the bits one comma-separated item names: *, a, a-b, with an optional /step.
Result<void> parse_item(std::string_view item, const Field& f, std::vector<bool>& bits,
                        std::string_view expr) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("schedule '{}': {} {}", expr, f.name, why));
  };
  int step = 1;
  size_t slash = item.find('/');
  std::string_view range = item.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view s = item.substr(slash + 1);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
    if (ec != std::errc() || end != s.data() + s.size() || step < 1) {
      return bad(fmt::format("step '{}' is not a positive number", s));
    }
  }
  int lo = f.min;
  int hi = f.max;
  if (range != "*") {
    size_t dash = range.find('-');
    auto a = value_of(range.substr(0, dash), f);
    if (!a) return bad(fmt::format("'{}' is not a value", range.substr(0, dash)));
    lo = *a;
    hi = slash != std::string_view::npos && dash == std::string_view::npos ? f.max : *a;
    if (dash != std::string_view::npos) {
      auto b = value_of(range.substr(dash + 1), f);
      if (!b) return bad(fmt::format("'{}' is not a value", range.substr(dash + 1)));
      hi = *b;
    }
  }
  if (lo < f.min || hi > f.max || lo > hi) {
    return bad(fmt::format("{} is not in {}..{}", lo < f.min || lo > f.max ? lo : hi, f.min,
                           f.max));
  }
  for (int v = lo; v <= hi; v += step) bits[v] = true;
  return {};
}

Result<std::vector<bool>> parse_field(std::string_view text, const Field& f,
                                      std::string_view expr) {
  std::vector<bool> bits(f.max + 1, false);
  for (std::string_view item : split(text, ',')) {
    if (item.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("schedule '{}': {} has an empty list item", expr, f.name));
    }
    if (auto r = parse_item(item, f, bits, expr); !r) return r.error();
  }
  return bits;
}

std::string_view expand_macro(std::string_view text) {
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@hourly") return "0 * * * *";
  return text;
}

}  // namespace

Result<Schedule> Schedule::parse(std::string_view text) {
  Schedule s;
  s.text_ = std::string(text);
  auto parts = words(text);
  if (parts.size() == 2 && parts[0] == "@every") {
    auto d = parse_duration(parts[1]);
    if (!d || *d < seconds(1)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("schedule '{}': @every needs a duration of 1s or more, "
                                    "like @every 30s",
                                    text));
    }
    s.every_ = duration_cast<seconds>(*d);
    return s;
  }
  if (parts.size() == 1) parts = words(expand_macro(parts[0]));
  if (parts.size() != 5) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("schedule '{}': expected five fields (minute hour "
                                  "day-of-month month day-of-week), @hourly/@daily/... or "
                                  "@every 30s",
                                  text));
  }
  std::array<std::vector<bool>, 5> bits;
  for (size_t i = 0; i < 5; ++i) {
    auto b = parse_field(parts[i], kFields[i], text);
    if (!b) return b.error();
    bits[i] = std::move(*b);
  }
  for (int v = 0; v < 60; ++v) s.minutes_[v] = bits[0][v];
  for (int v = 0; v < 24; ++v) s.hours_[v] = bits[1][v];
  for (int v = 1; v <= 31; ++v) s.days_[v] = bits[2][v];
  for (int v = 1; v <= 12; ++v) s.months_[v] = bits[3][v];
  for (int v = 0; v <= 7; ++v) {
    if (bits[4][v]) s.weekdays_[v % 7] = true;  // 7 is Sunday too
  }
  s.days_restricted_ = parts[2] != "*";
  s.weekdays_restricted_ = parts[4] != "*";
  if (!s.next_cron(SysTime{})) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("schedule '{}' never fires (no such date)", text));
  }
  return s;
}

SysTime Schedule::next_after(SysTime after) const {
  if (every_.count() > 0) {
    auto since_epoch = duration_cast<seconds>(after.time_since_epoch());
    return SysTime((since_epoch / every_ + 1) * every_);
  }
  return *next_cron(after);  // parse() made sure there is one
}

// Walks forward a field at a time (month, day, hour, minute), skipping whole units that
// cannot match; cron's rule: when both day fields are restricted, either may match.
std::optional<SysTime> Schedule::next_cron(SysTime after) const {
  auto t = floor<minutes>(after) + minutes(1);
  const auto limit = t + years(9);  // covers every leap-year cycle of a 29 February
  while (t < limit) {
    auto day = floor<days>(t);
    year_month_day ymd(day);
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      auto next = ymd.year() / ymd.month() / 1 + months(1);
      t = sys_days(year_month_day(next));
      continue;
    }
    bool dom = days_[static_cast<unsigned>(ymd.day())];
    bool dow = weekdays_[weekday(day).c_encoding()];
    bool day_ok = days_restricted_ && weekdays_restricted_ ? (dom || dow)
                  : days_restricted_                       ? dom
                                                           : dow;
    if (!day_ok) {
      t = day + days(1);
      continue;
    }
    auto hm = hh_mm_ss(t - day);
    if (!hours_[hm.hours().count()]) {
      t = day + hm.hours() + hours(1);
      continue;
    }
    if (!minutes_[hm.minutes().count()]) {
      t += minutes(1);
      continue;
    }
    return SysTime(t);
  }
  return std::nullopt;
}

}  // namespace kumo::events
