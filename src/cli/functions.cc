// `kumo deploy`, `ls`, `describe` and `rm`: the function lifecycle over /api/v1/functions.
#include <fmt/format.h>

#include <filesystem>

#include "cli/output.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "cli/session.h"
#include "cli/subcommands.h"
#include "common/clock.h"
#include "registry/package.h"
#include "registry/registry.h"

namespace kumo::cli {
namespace {

// Prints rendered text, or fails when the reply had an unexpected shape.
void print_rendered(const Result<std::string>& text) {
  if (!text) fail(kExitFailed, text.error().message);
  std::fwrite(text->data(), 1, text->size(), stdout);
  std::fflush(stdout);
}

std::string function_path(const std::string& name) {
  return "/api/v1/functions/" + url_escape(name);
}

constexpr uint64_t kMiB = uint64_t{1} << 20;

// Refuses, before packing, a folder over the server's package limit: packing a few hundred
// MiB takes seconds of CPU before the upload would be refused. The files' sum is the measure
// (a folder of compressible files over it might pack under it; such a package is refused too,
// for a clear rule and a fast answer).
void check_folder_size(const std::string& dir) {
  auto bytes = registry::folder_bytes(dir);
  if (!bytes) fail(kExitUsage, bytes.error().message);
  uint64_t limit = registry::RegistryOptions{}.max_package_bytes;
  if (*bytes > limit) {
    fail(kExitUsage, fmt::format("{} holds {} MiB of files; a package may be at most {} MiB: "
                                 "leave out what the function does not need",
                                 dir, *bytes / kMiB, limit / kMiB));
  }
}

// Refuses, before uploading, a package over the server's limit (tar's per-file overhead can
// take many small files over it).
void check_package_size(const std::string& dir, size_t package_bytes) {
  uint64_t limit = registry::RegistryOptions{}.max_package_bytes;
  if (package_bytes > limit) {
    fail(kExitUsage, fmt::format("{} packs to {} MiB; a package may be at most {} MiB: "
                                 "leave out what the function does not need",
                                 dir, package_bytes / kMiB, limit / kMiB));
  }
}

void deploy(const Options& options, const std::string& dir, bool json) {
  check_folder_size(dir);
  auto package = registry::pack_directory(dir);
  if (!package) {
    bool users_fault = package.error().code == ErrorCode::kInvalidArgument ||
                       package.error().code == ErrorCode::kNotFound;
    fail(users_fault ? kExitUsage : kExitFailed, package.error().message);
  }
  check_package_size(dir, package->size());
  auto session = Session::open(options);
  http::ClientResponse reply;
  {
    ProgressNote note(fmt::format("uploading {} ({})",
                                  std::filesystem::path(dir).filename().string(),
                                  format_bytes(package->size())));
    reply = session->call("POST", "/api/v1/functions", *package,
                          {{"Content-Type", "application/gzip"}}, std::chrono::minutes(10));
  }
  if (json) return print_line(reply.body);
  print_rendered(render_deployed(parse_reply(reply.body), package->size(), Style::detect(1)));
}

void list(const Options& options, bool json) {
  auto reply = Session::open(options)->call("GET", "/api/v1/functions");
  if (json) return print_line(reply.body);
  print_rendered(render_function_list(parse_reply(reply.body), wall_micros(), Style::detect(1)));
}

void describe(const Options& options, const std::string& name, bool json) {
  auto reply = Session::open(options)->call("GET", function_path(name), {}, {},
                                            std::chrono::seconds(60), kListHint);
  if (json) return print_line(reply.body);
  print_rendered(render_function(parse_reply(reply.body), wall_micros(), Style::detect(1)));
}

void remove_function(const Options& options, const std::string& name) {
  Session::open(options)->call("DELETE", function_path(name), {}, {}, std::chrono::seconds(60),
                               kListHint);
  print_line(fmt::format("removed {}", name));
}

}  // namespace

void add_deploy_command(CLI::App& app, std::shared_ptr<Options> options) {
  struct Args {
    std::string dir;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* sub = add_client_subcommand(app, "deploy", "Deploy the function in DIR (with kumo.yaml)");
  sub->add_option("DIR", args->dir, "Folder holding kumo.yaml and the code")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_flag("--json", args->json, "Print the server's JSON reply");
  sub->callback([options, args] { deploy(*options, args->dir, args->json); });
}

void add_listing_commands(CLI::App& app, std::shared_ptr<Options> options) {
  auto ls_json = std::make_shared<bool>(false);
  auto* ls = add_client_subcommand(app, "ls", "List deployed functions");
  ls->add_flag("--json", *ls_json, "Print the server's JSON");
  ls->callback([options, ls_json] { list(*options, *ls_json); });

  struct NameArgs {
    std::string name;
    bool json = false;
  };
  auto described = std::make_shared<NameArgs>();
  auto* desc = add_client_subcommand(app, "describe", "Show a function's spec and versions");
  desc->add_option("NAME", described->name, "Function name")->required();
  desc->add_flag("--json", described->json, "Print the server's JSON");
  desc->callback([options, described] { describe(*options, described->name, described->json); });

  auto removed = std::make_shared<std::string>();
  auto* rm = add_client_subcommand(app, "rm", "Remove a function and its versions");
  rm->add_option("NAME", *removed, "Function name")->required();
  rm->callback([options, removed] { remove_function(*options, *removed); });
}

}  // namespace kumo::cli
