// How many bytes a folder would put into a package, counted before packing it, so that
// `kumo deploy` can refuse a folder the server could never take without packing and
// uploading it first. Pure filesystem reads; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace kumo::cli {

// The sum of the sizes of the regular files under `dir` that registry::pack_directory()
// packs: symlinks are not followed, and .git, __pycache__, node_modules and .kumo are
// skipped as it skips them. kInvalidArgument when `dir` cannot be read.
Result<uint64_t> folder_bytes(const std::string& dir);

}  // namespace kumo::cli
