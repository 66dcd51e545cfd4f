// Standard base64 (RFC 4648, padded), as JSON events, S3 checksums and tokens carry it.
#pragma once

#include <string>
#include <string_view>

namespace kumo {

std::string base64_encode(std::string_view bytes);

}  // namespace kumo
