// Parsing and printing of the units that appear in specs and tables: durations ("30s",
// "500ms", "2m", "1h") and sizes. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo {

// "250ms", "30s", "5m", "1h", or a bare number of seconds. Rejects negatives and junk.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// "1.5 s", "12.3 ms", "850 µs": a human form of a duration in microseconds.
std::string format_micros(double micros);

}  // namespace kumo
