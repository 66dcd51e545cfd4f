#include "cli/subcommands.h"

namespace kumo::cli {

void add_objects_commands(CLI::App&, std::shared_ptr<Options>) {}

}  // namespace kumo::cli
