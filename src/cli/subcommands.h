// Internal to src/cli: one registration function per group of subcommands, each in its
// own file. `options` carries the global flags; the callbacks share it, so it lives as
// long as the CLI::App that holds them.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/session.h"

namespace kumo::cli {

// app.add_subcommand() plus what every client subcommand shares (global flags after it).
CLI::App* add_client_subcommand(CLI::App& app, const std::string& name,
                                const std::string& description);

void add_deploy_command(CLI::App& app, std::shared_ptr<Options> options);    // functions.cc
void add_listing_commands(CLI::App& app, std::shared_ptr<Options> options);  // functions.cc
void add_logs_command(CLI::App& app, std::shared_ptr<Options> options);      // logs.cc
void add_invoke_command(CLI::App& app, std::shared_ptr<Options> options);    // invoke.cc
void add_usage_command(CLI::App& app, std::shared_ptr<Options> options);     // usage.cc
void add_top_command(CLI::App& app, std::shared_ptr<Options> options);       // top.cc
void add_event_commands(CLI::App& app, std::shared_ptr<Options> options);    // events.cc
void add_objects_commands(CLI::App& app, std::shared_ptr<Options> options);  // objects.cc
void add_tables_commands(CLI::App& app, std::shared_ptr<Options> options);   // tables.cc
void add_tenants_commands(CLI::App& app, std::shared_ptr<Options> options);  // tenants.cc
void add_nodes_command(CLI::App& app, std::shared_ptr<Options> options);     // nodes.cc
void add_keys_commands(CLI::App& app, std::shared_ptr<Options> options);     // keys.cc
void add_audit_command(CLI::App& app, std::shared_ptr<Options> options);     // keys.cc

}  // namespace kumo::cli
