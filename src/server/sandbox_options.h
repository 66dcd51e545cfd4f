// How `kumo serve` boxes functions: --insecure-no-sandbox (run them without a box; the server
// says so on every start), --sandbox-share DIR (repeatable: a host folder every box sees
// writable at its own path), --max-open-files N (RLIMIT_NOFILE per instance, default 1024)
// and --check-sandbox (say whether this machine can build the box, and exit).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace kumo::executor {
struct LauncherOptions;
}

namespace kumo::server {

struct SandboxOptions {
  bool insecure_no_sandbox = false;
  std::vector<std::string> share;
  int max_open_files = 1024;
};

void add_sandbox_flags(CLI::App& serve, SandboxOptions& options, bool& check_only);

// Prints whether the box can be built here (and why not); returns the exit code.
int check_sandbox();

// Fills the launcher's sandbox fields: the options, plus the folders a box must see
// read-only for Kumo's own instance programs (kumo-model beside this program, the
// ONNX Runtime library it loads).
void apply_sandbox_options(const SandboxOptions& options, executor::LauncherOptions& out);

}  // namespace kumo::server
