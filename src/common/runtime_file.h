// Where a running server tells local clients its data directory: a small JSON file per port,
// {"url", "data_dir", "pid"}, in $XDG_RUNTIME_DIR/kumo (or ~/.local/share/kumo/runtime), as
// Jupyter does for its servers. The CLI reads it to find a local server's admin key
// (<data_dir>/admin.key, readable by the server's user only); the file itself holds no secret.
#pragma once

#include <optional>
#include <string>

namespace kumo {

// The folder of runtime files for this user; nullopt without HOME or XDG_RUNTIME_DIR.
std::optional<std::string> runtime_dir();

// Writes the file for `port` (replacing a stale one); its path, or nullopt when it could not
// be written (a warning is logged; nothing else depends on it).
std::optional<std::string> write_runtime_file(int port, const std::string& url,
                                              const std::string& data_dir);

// Removes it, if it is still this process's.
void remove_runtime_file(const std::string& path);

}  // namespace kumo
