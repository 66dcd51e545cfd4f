// `kumo tenants create|ls|rm`: the operator's tenants, over /api/v1/tenants.
#include <fmt/format.h>

#include <iostream>

#include "cli/output.h"
#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

struct TenantArgs {
  std::string name;
  bool json = false;
};

void create(const Options& options, const TenantArgs& args) {
  auto reply =
      Session::open(options)->call("POST", "/api/v1/tenants", json{{"name", args.name}}.dump(),
                                   {{"Content-Type", "application/json"}});
  if (args.json) return print_line(reply.body);
  print_line(fmt::format("created tenant {}", args.name));
}

void list(const Options& options, const TenantArgs& args) {
  auto reply = Session::open(options)->call("GET", "/api/v1/tenants");
  if (args.json) return print_line(reply.body);
  Table table({"NAME", "FUNCTIONS", "CREATED"}, {Align::kLeft, Align::kRight, Align::kLeft});
  for (const json& t : parse_reply(reply.body).value("tenants", json::array())) {
    table.add_row({t.value("name", ""), std::to_string(t.value("functions", 0)),
                   format_utc(t.value("created_us", int64_t{0}))});
  }
  std::cout << table.render(Style::detect(1));
}

void remove(const Options& options, const TenantArgs& args) {
  auto reply = Session::open(options)->call("DELETE", "/api/v1/tenants/" + url_escape(args.name));
  if (args.json) return print_line(reply.body);
  print_line(fmt::format("removed tenant {} ({} key(s) revoked)", args.name,
                         parse_reply(reply.body).value("revoked_keys", 0)));
}

using Action = void (*)(const Options&, const TenantArgs&);

CLI::App* add_action(CLI::App& parent, std::shared_ptr<Options> options,
                     std::shared_ptr<TenantArgs> args, const std::string& name,
                     const std::string& description, Action action) {
  auto* sub = add_client_subcommand(parent, name, description);
  sub->callback([options, args, action] { action(*options, *args); });
  sub->add_flag("--json", args->json, "Print the server's JSON");
  return sub;
}

}  // namespace

void add_tenants_commands(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<TenantArgs>();
  auto* tenants = add_client_subcommand(
      app, "tenants", "Tenants (the operator's): create, ls, rm; a tenant's key sees only its own");
  tenants->require_subcommand(1);
  auto* create_cmd = add_action(*tenants, options, args, "create", "Create a tenant", create);
  create_cmd->add_option("NAME", args->name, "1 to 63 of a-z, 0-9 and '-'")->required();
  add_action(*tenants, options, args, "ls", "List the tenants", list);
  auto* rm_cmd = add_action(*tenants, options, args, "rm",
                            "Remove a tenant that has no functions left; revokes its keys", remove);
  rm_cmd->add_option("NAME", args->name, "Tenant")->required();
}

}  // namespace kumo::cli
