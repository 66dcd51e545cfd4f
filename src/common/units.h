// Parsing of the durations that appear in specs ("30s", "500ms", "2m", "1h"). Pure;
// thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo {

// "250ms", "30s", "5m", "1h", or a bare number of seconds. Rejects negatives and junk.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace kumo
