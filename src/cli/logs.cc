// `kumo logs NAME [-f] [--tail N]`: a function's log lines, optionally followed live.
#include <fmt/format.h>

#include <cstdio>

#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {
namespace {

struct LogsArgs {
  std::string name;
  bool follow = false;
  int tail = 100;
};

void logs(const Options& options, const LogsArgs& args) {
  std::string target =
      fmt::format("/api/v1/functions/{}/logs?tail={}", url_escape(args.name), args.tail);
  if (args.follow) target += "&follow=1";
  // -f runs until interrupted (Ctrl-C); the server keeps the reply open meanwhile.
  auto timeout = args.follow ? std::chrono::hours(24 * 365) : std::chrono::hours(1);
  Session::open(options)->stream("GET", target, {}, {}, timeout, kListHint,
                                 [](std::string_view chunk) {
                                   std::fwrite(chunk.data(), 1, chunk.size(), stdout);
                                   std::fflush(stdout);
                                 });
}

}  // namespace

void add_logs_command(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<LogsArgs>();
  auto* sub = add_client_subcommand(app, "logs", "Print a function's logs");
  sub->add_option("NAME", args->name, "Function name")->required();
  sub->add_flag("-f,--follow", args->follow, "Keep printing new lines until interrupted");
  sub->add_option("--tail", args->tail, "Lines of history to print first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->callback([options, args] { logs(*options, *args); });
}

}  // namespace kumo::cli
