// `kumo keys create|ls|revoke` and `kumo audit`: API keys and the audit log, over
// /api/v1/keys and /api/v1/audit. Both need a key with the admin grant.
#include <fmt/format.h>

#include <cstdio>

#include "cli/render.h"
#include "cli/session.h"
#include "cli/since.h"
#include "cli/subcommands.h"
#include "common/clock.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kKeysHint = "`kumo keys ls` lists them";

struct KeyArgs {
  std::string name;
  std::string scopes;
  std::string tenant;
  bool tenant_given = false;
  std::string expires;
  std::string id;
  bool json = false;
};

void print(const Result<std::string>& text) {
  if (!text) fail(kExitFailed, text.error().message);
  std::fwrite(text->data(), 1, text->size(), stdout);
}

void create(const Options& options, const KeyArgs& args) {
  json body = {{"name", args.name}, {"scopes", args.scopes}};
  if (args.tenant_given) body["tenant"] = args.tenant;
  if (!args.expires.empty()) {
    auto us = parse_duration(args.expires, "--expires");
    if (!us) fail(kExitUsage, us.error().message);
    body["expires_in_s"] = *us / 1'000'000;
  }
  auto reply = Session::open(options)->call("POST", "/api/v1/keys", body.dump(),
                                            {{"Content-Type", "application/json"}});
  if (args.json) return print_line(reply.body);
  print(render_new_key(parse_reply(reply.body), wall_micros(), Style::detect(1)));
}

void list(const Options& options, const KeyArgs& args) {
  auto reply = Session::open(options)->call("GET", "/api/v1/keys");
  if (args.json) return print_line(reply.body);
  print(render_key_list(parse_reply(reply.body), wall_micros(), Style::detect(1)));
}

void revoke(const Options& options, const KeyArgs& args) {
  auto reply = Session::open(options)->call("DELETE", "/api/v1/keys/" + url_escape(args.id), {}, {},
                                            std::chrono::seconds(60), kKeysHint);
  if (args.json) return print_line(reply.body);
  json key = parse_reply(reply.body);
  print_line(fmt::format("revoked key {} \"{}\"; it is refused from now on", args.id,
                         key.value("name", "")));
}

struct AuditArgs {
  std::string since;
  int limit = 100;
  bool json = false;
};

void audit(const Options& options, const AuditArgs& args) {
  int64_t since_us = 0;
  if (!args.since.empty()) {
    auto parsed = parse_since(args.since, wall_micros());
    if (!parsed) fail(kExitUsage, parsed.error().message);
    since_us = *parsed;
  }
  auto reply = Session::open(options)->call(
      "GET", fmt::format("/api/v1/audit?since_us={}&limit={}", since_us, args.limit));
  if (args.json) return print_line(reply.body);
  print(render_audit(parse_reply(reply.body), Style::detect(1)));
}

}  // namespace

void add_keys_commands(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<KeyArgs>();
  auto* keys = add_client_subcommand(app, "keys", "API keys: create, ls, revoke (needs admin)");
  keys->require_subcommand(1);

  auto* create_cmd = add_client_subcommand(*keys, "create", "Make a key; prints its token once");
  create_cmd->add_option("NAME", args->name, "What the key is for (1..64 characters)")->required();
  create_cmd
      ->add_option("--scopes", args->scopes,
                   "Grants, separated by commas: admin, deploy, invoke, read, write, publish, "
                   "or VERB:KIND/NAME such as invoke:function/hello, write:bucket/uploads-*")
      ->required();
  CLI::Option* tenant = create_cmd->add_option(
      "--tenant", args->tenant,
      "The tenant the key belongs to (default: your key's; the operator's admin may name any, "
      "'' for an operator's key)");
  create_cmd->add_option("--expires", args->expires, "Expire after this long: 12h, 30d, 2w");
  create_cmd->add_flag("--json", args->json, "Print the server's JSON (the token included)");
  create_cmd->footer(
      "Examples:\n"
      "  kumo keys create ci --scopes deploy --expires 90d\n"
      "  kumo keys create resize-caller --scopes 'invoke:function/resize,read:function/resize'\n"
      "  kumo keys create acme-admin --scopes admin --tenant acme\n");
  create_cmd->callback([options, args, tenant] {
    args->tenant_given = tenant->count() > 0;
    create(*options, *args);
  });

  auto* ls_cmd = add_client_subcommand(*keys, "ls", "List keys (never their secrets)");
  ls_cmd->add_flag("--json", args->json, "Print the server's JSON");
  ls_cmd->callback([options, args] { list(*options, *args); });

  auto* revoke_cmd = add_client_subcommand(*keys, "revoke", "Revoke a key; refused at once");
  revoke_cmd->add_option("ID", args->id, "The key's id (kk_...), as `kumo keys ls` shows it")
      ->required();
  revoke_cmd->add_flag("--json", args->json, "Print the server's JSON");
  revoke_cmd->callback([options, args] { revoke(*options, *args); });
}

void add_audit_command(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<AuditArgs>();
  auto* sub = add_client_subcommand(
      app, "audit", "Who changed what, when and from where (deploys, keys, buckets, tables)");
  sub->add_option("--since", args->since,
                  "Only records since: a duration ago (30m, 1h, 7d) or a UTC date "
                  "(2026-11-26, 2026-11-26T10:00:00Z)");
  sub->add_option("--limit", args->limit, "At most this many, the newest (1..1000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sub->add_flag("--json", args->json, "Print the server's JSON");
  sub->footer(
      "Examples:\n"
      "  kumo audit --since 1h\n"
      "  kumo audit --since 2026-11-26 --limit 1000 --json\n");
  sub->callback([options, args] { audit(*options, *args); });
}

}  // namespace kumo::cli
