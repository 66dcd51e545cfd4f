#include "server/sandbox_options.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "executor/process_launcher.h"
#include "executor/sandbox.h"

namespace kumo::server {

namespace fs = std::filesystem;

void add_sandbox_flags(CLI::App& serve, SandboxOptions& options, bool& check_only) {
  serve.add_flag("--insecure-no-sandbox", options.insecure_no_sandbox,
                 "run functions WITHOUT a sandbox (only for code you trust)");
  serve.add_option("--sandbox-share", options.share,
                   "a host folder every function sees writable at its own path (repeatable)");
  serve.add_option("--max-open-files", options.max_open_files,
                   "open files per instance (RLIMIT_NOFILE)")
      ->check(CLI::Range(64, 1 << 20))
      ->capture_default_str();
  serve.add_flag("--check-sandbox", check_only,
                 "say whether this machine can run functions in a sandbox, and exit");
}

int check_sandbox() {
  const std::string& why = executor::sandbox_unavailable_reason();
  if (why.empty()) {
    std::printf("sandbox: available\n");
    return 0;
  }
  std::printf("sandbox: unavailable: %s\n", why.c_str());
  return 1;
}

void apply_sandbox_options(const SandboxOptions& options, executor::LauncherOptions& out) {
  out.sandbox = !options.insecure_no_sandbox;
  out.sandbox_share = options.share;
  out.max_open_files = options.max_open_files;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) out.sandbox_read_only.push_back(self.parent_path().string());
  if (const char* ort = std::getenv("KUMO_ORT_LIB"); ort != nullptr && *ort != 0) {
    out.sandbox_read_only.push_back(fs::absolute(ort, ec).parent_path().string());
  }
  out.sandbox_read_only.push_back(KUMO_ORT_FETCHED_DIR);
}

}  // namespace kumo::server
