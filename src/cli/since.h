// Parsing of `kumo usage --since`: a duration ago or an absolute UTC date/time, as Unix
// microseconds; and of a plain duration. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace kumo::cli {

// `text` is either
//   - a duration before `now_us`: an integer or decimal followed by s, m, h, d or w
//     ("90s", "30m", "1h", "1.5h", "7d", "2w"), or
//   - a UTC date "2026-11-26" (midnight) or date-time "2026-11-26T10:00:00Z" (the 'Z' or a
//     "+02:00" style offset may be given; without one the time is read as UTC; a space may
//     stand for the 'T'; seconds may be omitted).
// Returns the Unix time in microseconds, or kInvalidArgument with a message showing the
// accepted forms. A time after `now_us` is rejected: usage is only recorded for the past.
Result<int64_t> parse_since(std::string_view text, int64_t now_us);

// A duration in the form above ("90s", "12h", "30d", "2w") in microseconds, for
// `kumo keys create --expires`. kInvalidArgument for anything else, `flag` naming the option.
Result<int64_t> parse_duration(std::string_view text, std::string_view flag);

}  // namespace kumo::cli
