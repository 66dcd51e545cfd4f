// Server logging: spdlog's default logger, one structured line per event worth knowing.
// Call init_logging once from main(); the log functions are thread-safe.
#pragma once

#include <spdlog/spdlog.h>

namespace kumo {

// Sets the default logger's pattern and level ("info", "debug", ...).
void init_logging(const std::string& level);

}  // namespace kumo
