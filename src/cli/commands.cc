#include "cli/commands.h"

#include <memory>

#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {

void add_client_commands(CLI::App& app) {
  auto options = std::make_shared<Options>();
  app.add_option("--url", options->url,
                 "Kumo server URL (default: $KUMO_URL, else http://127.0.0.1:8080)");
  add_deploy_command(app, options);
  add_invoke_command(app, options);
  add_listing_commands(app, options);
  add_logs_command(app, options);
  add_usage_command(app, options);
  add_top_command(app, options);
  add_event_commands(app, options);
  add_objects_commands(app, options);
  add_tables_commands(app, options);
}

CLI::App* add_client_subcommand(CLI::App& app, const std::string& name,
                                const std::string& description) {
  CLI::App* sub = app.add_subcommand(name, description);
  sub->fallthrough();  // so `kumo ls --url X` reaches the global option too
  return sub;
}

int exit_code(const CLI::App& app, const CLI::ParseError& error) {
  if (error.get_name() == "RuntimeError") return error.get_exit_code();
  int code = app.exit(error);  // prints help, or the usage error and a pointer to --help
  return code == 0 ? kExitOk : kExitUsage;
}

}  // namespace kumo::cli
