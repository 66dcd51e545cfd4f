// How `kumo serve` checks who calls it: `--auth keys` (the default: API keys in the data
// directory's kumo.db, the first start writing the operator's admin key to <data>/admin.key)
// or `--auth none` (no checks at all; refused unless the server listens on loopback only,
// and said on every start).
#pragma once

#include <memory>
#include <string>

#include "auth/keys.h"
#include "common/result.h"

namespace kumo::server {

inline constexpr const char* kAuthKeys = "keys";
inline constexpr const char* kAuthNone = "none";

// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback_host(const std::string& host);

// The key store for `mode` ("keys": opened on <data_dir>/kumo.db, with the admin key made
// on first start; "none": nullptr after the warning). kInvalidArgument for an unknown mode
// or "none" with a host beyond loopback.
Result<std::unique_ptr<auth::KeyStore>> open_auth(const std::string& mode,
                                                  const std::string& data_dir,
                                                  const std::string& listen_host);

}  // namespace kumo::server
