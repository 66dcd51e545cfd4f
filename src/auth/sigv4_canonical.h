// The pieces of SigV4's canonical request: URI encoding, the canonical URI, query and headers,
// and the ISO 8601 basic timestamps SigV4 uses. Pure functions over caller-owned values, so
// thread-safe. Used by sigv4.cc (and its tests); other parts go through sigv4.h.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace kumo::auth {

using Header = std::pair<std::string, std::string>;
using QueryParam = std::pair<std::string, std::string>;  // decoded name and value

// RFC 3986 encoding as SigV4 wants it: A-Z a-z 0-9 - _ . ~ stay, every other byte becomes
// %XX (upper-case hex); '/' stays too when `keep_slash`.
std::string uri_encode(std::string_view s, bool keep_slash);

// Decodes %XX escapes (a '+' stays a '+'); nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);

// S3 (`s3_rules`): each '/'-separated segment of the path as sent, percent-decoded and encoded
// once (so "%2F" stays "%2F"), never normalized.
// Other services: the path with empty, "." and ".." segments resolved, then encoded as it
// stands (so a path sent percent-encoded ends up encoded twice). nullopt for a bad escape.
std::optional<std::string> canonical_uri(std::string_view path, bool s3_rules);

// The raw query split into decoded name/value pairs, in order; nullopt for a bad escape or
// more than `max_params` parameters.
std::optional<std::vector<QueryParam>> parse_query(std::string_view raw, size_t max_params);

// Encoded "name=value" pairs sorted by name, then value, joined by '&'; a parameter named
// `skip` (the presigned signature) is left out.
std::string canonical_query(const std::vector<QueryParam>& params, std::string_view skip = {});

// ASCII case-insensitive equality, for header names.
bool iequals(std::string_view a, std::string_view b);

// The value of a header, case-insensitively; several of the same name are joined by ','.
std::optional<std::string> header_value(const std::vector<Header>& headers, std::string_view name);

// "name:value\n" for each of `signed_names` (lower-case, sorted), values trimmed with inner runs
// of spaces collapsed; the error is the first signed name the request does not carry.
tl::expected<std::string, std::string> canonical_headers(
    const std::vector<Header>& headers, const std::vector<std::string>& signed_names);

using SysTime = std::chrono::system_clock::time_point;

// "20150830T123600Z" ↔ a time; nullopt for anything else.
std::optional<SysTime> parse_amz_date(std::string_view s);
std::string format_amz_date(SysTime t);
// An RFC 1123 Date header ("Sun, 30 Aug 2015 12:36:00 GMT"); nullopt for anything else.
std::optional<SysTime> parse_http_date(std::string_view s);

}  // namespace kumo::auth
