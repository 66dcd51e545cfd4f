// `kumo usage [--since D] [--tenant T] [--json]`: invocations, latency and cost per function
// (and, for the operator, per tenant).
#include <fmt/format.h>

#include <cstdio>

#include "cli/render.h"
#include "cli/session.h"
#include "cli/since.h"
#include "cli/subcommands.h"
#include "common/clock.h"

namespace kumo::cli {
namespace {

struct UsageArgs {
  std::string since = "24h";
  std::string tenant;  // the operator's filter; "" for every tenant
  bool json = false;
};

void usage(const Options& options, const UsageArgs& args) {
  auto since_us = parse_since(args.since, wall_micros());
  if (!since_us) fail(kExitUsage, since_us.error().message);
  std::string target = fmt::format("/api/v1/usage?since_us={}", *since_us);
  if (!args.tenant.empty()) target += "&tenant=" + url_escape(args.tenant);
  auto reply = Session::open(options)->call("GET", target);
  if (args.json) return print_line(reply.body);
  auto text = render_usage(parse_reply(reply.body), Style::detect(1));
  if (!text) fail(kExitFailed, text.error().message);
  std::fwrite(text->data(), 1, text->size(), stdout);
}

}  // namespace

void add_usage_command(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<UsageArgs>();
  auto* sub = add_client_subcommand(app, "usage", "Show invocations, latency and cost");
  sub->add_option("--since", args->since,
                  "Start of the period: a duration ago (30m, 1h, 7d) or a UTC date "
                  "(2026-11-26, 2026-11-26T10:00:00Z)")
      ->capture_default_str();
  sub->add_option("--tenant", args->tenant,
                  "Only this tenant's functions (the operator's key; a tenant's key always "
                  "sees its own)");
  sub->add_flag("--json", args->json, "Print the server's JSON");
  sub->callback([options, args] { usage(*options, *args); });
}

}  // namespace kumo::cli
