#include "common/units.h"

#include <charconv>

#include <fmt/format.h>

namespace kumo {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a duration; write e.g. 500ms, 30s, 5m or 1h", text));
  };
  if (text.empty()) return bad();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return bad();
  std::string_view unit(end, text.data() + text.size() - end);
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "m") {
    ms = value * 60'000;
  } else if (unit == "h") {
    ms = value * 3'600'000;
  } else {
    return bad();
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace kumo
