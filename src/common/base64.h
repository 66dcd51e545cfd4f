// Standard base64 (RFC 4648, padded), as JSON events, S3 checksums and tokens carry it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kumo {

std::string base64_encode(std::string_view bytes);
// The bytes of padded base64 text; nullopt when it is not (a length not a multiple of 4, or
// a character outside the alphabet).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kumo
