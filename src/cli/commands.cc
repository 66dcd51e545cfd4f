#include "cli/commands.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <optional>

#include "cli/output.h"
#include "cli/session.h"
#include "cli/subcommands.h"
#include "cli/suggest.h"

#ifndef KUMO_VERSION
#error "KUMO_VERSION must be defined (the project version from CMake)"
#endif

namespace kumo::cli {
namespace {

void add_version_command(CLI::App& app) {
  app.set_version_flag("--version", version_line(), "Print the version and exit");
  auto* sub = add_client_subcommand(app, "version", "Print the version");
  sub->callback([] { print_line(version_line()); });
}

// "kumo table" for the `table` subcommand: how a person would type it.
std::string command_path(const CLI::App& at) {
  if (at.get_parent() == nullptr) return "kumo";
  return command_path(*at.get_parent()) + " " + at.get_name();
}

// When a command that needs a subcommand got an unknown word instead ("kumo lss"), says so
// in one line with the nearest command, and returns the usage exit code. nullopt when the
// error is something else (CLI11's own message then serves).
std::optional<int> report_unknown_command(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  if (at->get_require_subcommand_min() == 0) return std::nullopt;
  std::string typed;
  for (const auto& word : app.remaining(true)) {
    if (!word.starts_with('-')) {
      typed = word;
      break;
    }
  }
  if (typed.empty()) return std::nullopt;
  std::vector<std::string> names;
  for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
    if (!sub->get_name().empty() && !sub->get_disabled()) names.push_back(sub->get_name());
  }
  std::string path = command_path(*at);
  auto near = nearest(typed, names);
  std::string hint = near ? fmt::format("did you mean `{} {}`?", path, *near)
                          : fmt::format("`{} --help` lists them", path);
  std::cerr << Style::detect(2).red("error:") << " '" << typed << "' is not a `" << path
            << "` command; " << hint << std::endl;
  return kExitUsage;
}

}  // namespace

std::string version_line() { return std::string("kumo ") + KUMO_VERSION; }

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
  add_tenants_commands(app, options);
  add_nodes_command(app, options);
  add_keys_commands(app, options);
  add_audit_command(app, options);
  add_version_command(app);
}

CLI::App* add_client_subcommand(CLI::App& app, const std::string& name,
                                const std::string& description) {
  CLI::App* sub = app.add_subcommand(name, description);
  sub->fallthrough();  // so `kumo ls --url X` reaches the global option too
  return sub;
}

int exit_code(const CLI::App& app, const CLI::ParseError& error) {
  if (error.get_name() == "RuntimeError") return error.get_exit_code();
  if (error.get_name() == "RequiredError") {
    if (auto code = report_unknown_command(app)) return *code;
  }
  int code = app.exit(error);  // prints help, or the usage error and a pointer to --help
  return code == 0 ? kExitOk : kExitUsage;
}

}  // namespace kumo::cli
