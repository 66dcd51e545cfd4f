#include "cli/subcommands.h"

namespace kumo::cli {

void add_event_commands(CLI::App&, std::shared_ptr<Options>) {}

}  // namespace kumo::cli
