// The `kumo` client subcommands: deploy, invoke, ls, describe, rm, logs, usage, top, version
// (and `--version`).
//
// main() (src/server) builds the CLI::App, adds `serve`, calls add_client_commands(), then
// parses:
//
//   try {
//     app.parse(argc, argv);
//   } catch (const CLI::ParseError& e) {
//     return kumo::cli::exit_code(app, e);
//   }
//   return 0;
//
// A subcommand's callback does its work during app.parse(). When it fails it prints one
// "error: ..." line to stderr and throws CLI::RuntimeError(code), CLI11's way to end with
// an exit code; exit_code() turns that and CLI11's own parse errors into the codes below.
//
// A word where a subcommand belongs that names none ("kumo lss") is a usage error reported in
// one line with the nearest command by edit distance ("did you mean `kumo ls`?").
//
// Exit codes: 0 ok; 1 the server or the function reported an error; 2 a usage error (bad
// flag, argument, file or --since); 3 no Kumo server answered at the URL.
//
// The commands talk to the server only over HTTP, at --url (a global option, accepted
// before or after the subcommand), else $KUMO_URL, else http://127.0.0.1:8080, sending
// "Authorization: Bearer $KUMO_API_KEY" when that is set. Not thread-safe (a CLI runs once).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace kumo::cli {

// Registers the global --url option and every client subcommand with its callback.
void add_client_commands(CLI::App& app);

// "kumo 0.1.0": the project version CMake was configured with.
std::string version_line();

// The process exit code for an exception out of app.parse(): the code a subcommand chose
// (CLI::RuntimeError), 0 for --help, else 2 after CLI11 printed the usage error.
int exit_code(const CLI::App& app, const CLI::ParseError& error);

}  // namespace kumo::cli
