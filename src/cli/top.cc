// `kumo top [--interval 2s]`: the function table with live instance counts, refreshed
// until interrupted.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "cli/render.h"
#include "cli/session.h"
#include "cli/subcommands.h"
#include "common/clock.h"
#include "common/units.h"

namespace kumo::cli {
namespace {

struct TopArgs {
  std::string interval = "2s";
  int iterations = 0;  // 0: until interrupted
};

void top(const Options& options, const TopArgs& args) {
  auto interval = parse_duration(args.interval);
  if (!interval || interval->count() < 100) {
    fail(kExitUsage, fmt::format("--interval '{}' must be a duration of at least 100ms, like 2s",
                                 args.interval));
  }
  auto session = Session::open(options);
  Style style = Style::detect(1);
  bool terminal = isatty(STDOUT_FILENO) == 1;
  for (int i = 0; args.iterations == 0 || i < args.iterations; ++i) {
    if (i > 0) std::this_thread::sleep_for(*interval);
    auto reply = session->call("GET", "/api/v1/functions");
    auto table = render_function_list(parse_reply(reply.body), wall_micros(), style);
    if (!table) fail(kExitFailed, table.error().message);
    // On a terminal redraw in place; in a pipe append one snapshot after another.
    std::string screen = terminal ? "\033[H\033[2J" : (i > 0 ? "\n" : "");
    screen += style.dim(fmt::format("kumo top: {} every {} (Ctrl-C to quit)", session->url(),
                                    args.interval)) +
              "\n\n" + *table;
    std::fwrite(screen.data(), 1, screen.size(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace

void add_top_command(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<TopArgs>();
  auto* sub = add_client_subcommand(app, "top", "Watch functions and their instances live");
  sub->add_option("--interval", args->interval, "Time between refreshes")->capture_default_str();
  sub->add_option("-n,--iterations", args->iterations, "Stop after N refreshes (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->callback([options, args] { top(*options, *args); });
}

}  // namespace kumo::cli
