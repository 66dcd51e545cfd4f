// The first start of a data directory: an admin key for the operator, handed over in a file
// only the server's user can read. Stateless; safe to call from any thread.
#pragma once

#include <optional>
#include <string>

#include "auth/keys.h"
#include "common/clock.h"
#include "common/result.h"

namespace kumo::auth {

inline constexpr const char* kAdminKeyFile = "admin.key";

// On a store with no keys at all (revoked ones count), makes an operator key named "admin"
// with the admin scope and writes its token and a newline to `<data_dir>/admin.key`: a
// temporary created with mode 0600 (O_EXCL, never looser), synced, then renamed over any old
// file, so the file is never readable by others nor half-written. Returns that path; nullopt
// when the store already had keys (nothing is made or written). If the file cannot be
// written, the key is erased again, so the next start tries anew.
Result<std::optional<std::string>> ensure_admin_key(KeyStore& keys, const std::string& data_dir,
                                                    int64_t now_us = wall_micros());

}  // namespace kumo::auth
