// SHA-256 of bytes as lower-case hex: packages' content addresses.
#pragma once

#include <string>
#include <string_view>

namespace kumo {

std::string sha256_hex(std::string_view bytes);

}  // namespace kumo
