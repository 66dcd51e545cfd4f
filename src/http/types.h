// Small HTTP value types and helpers shared by the server and the client: the header list,
// case-insensitive lookup, percent-decoding and query-string parsing. Pure functions on
// values; thread-safe. Beast-free so any part may include it cheaply.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kumo::http {

// Headers in wire order; a name may repeat. Names compare case-insensitively.
using Headers = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive equality (HTTP field names, tokens).
bool iequals(std::string_view a, std::string_view b);

// First value of header `name` (case-insensitive); empty when absent.
std::string find_header(const Headers& headers, std::string_view name);

// Decodes %XX escapes; with `plus_is_space` (query strings) also '+' as ' '. Malformed
// escapes are kept as written rather than rejected.
std::string url_decode(std::string_view text, bool plus_is_space = false);

// Encodes everything but unreserved characters (and '/' when `keep_slash`).
std::string url_encode(std::string_view text, bool keep_slash = false);

// "a=1&b=x%20y" -> {a: "1", b: "x y"}. A repeated key keeps its first value.
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace kumo::http
