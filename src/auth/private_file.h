// Small files only the server's user may read (the admin key, the sealing key): created with
// mode 0600 from the start (O_EXCL, never looser), synced, then moved into place. Stateless;
// safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::auth {

// Writes `data` to `path` through a 0600 temporary beside it: renamed over any old file when
// `replace`, otherwise linked into place only if `path` does not exist yet (kConflict then,
// and the old file stays). Nothing half-written is ever at `path`.
Result<void> write_private_file(const std::string& path, std::string_view data, bool replace);

}  // namespace kumo::auth
