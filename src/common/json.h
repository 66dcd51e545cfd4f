// Parsing of JSON that comes from outside the server (request bodies, functions' results,
// records stored by an older release) with a bound on how deeply arrays and objects nest.
//
// nlohmann's parser does not recurse, but copying, comparing, dumping and our own walks over
// a value (attribute values, change records) do: a 100 KB body of 50,000 nested arrays
// overflows the stack. So every value built from outside input is checked here first, and
// code downstream may recurse over it. The check is a byte scan without recursion.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace kumo {

// The most levels of arrays and objects Kumo accepts: `[]` and `{}` are one level,
// `{"a": [1]}` two. Deeper input is refused with "JSON nesting deeper than 128 levels".
inline constexpr size_t kMaxJsonDepth = 128;

// kInvalidArgument naming the limit when `text` nests deeper than `max_depth`. Counts `[` and
// `{` outside strings (escapes honoured); does not check that `text` is JSON.
Result<void> check_json_depth(std::string_view text, size_t max_depth = kMaxJsonDepth);

// The same for a value built in memory; walks it without recursion.
Result<void> check_json_value_depth(const nlohmann::json& value,
                                    size_t max_depth = kMaxJsonDepth);

// Parses outside JSON. kInvalidArgument "JSON nesting deeper than N levels" or
// "not JSON (<where and why>)"; a caller may prefix the message with what it expected.
Result<nlohmann::json> parse_json(std::string_view text, size_t max_depth = kMaxJsonDepth);

// True for an application/json or +json content type (parameters ignored, any case).
bool is_json_content_type(std::string_view content_type);

}  // namespace kumo
