// `kumo nodes`: the live nodes of a cluster-mode server, over GET /api/v1/cluster.
#include <fmt/format.h>

#include <iostream>

#include "cli/output.h"
#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

void list_nodes(const Options& options, bool as_json) {
  auto reply = Session::open(options)->call("GET", "/api/v1/cluster");
  if (as_json) return print_line(reply.body);
  json body = parse_reply(reply.body);
  if (body.value("mode", "") != "cluster") {
    return print_line("single-node mode (start with `kumo serve --cluster --etcd URL`)");
  }
  std::string self = body.value("node", "");
  Table table({"NODE", "URL", ""}, {Align::kLeft, Align::kLeft, Align::kLeft});
  for (const json& n : body.value("nodes", json::array())) {
    std::string id = n.value("id", "");
    table.add_row({id, n.value("url", ""), id == self ? "(this one)" : ""});
  }
  std::cout << table.render(Style::detect(1));
}

}  // namespace

void add_nodes_command(CLI::App& app, std::shared_ptr<Options> options) {
  auto as_json = std::make_shared<bool>(false);
  auto* nodes = add_client_subcommand(app, "nodes", "The live nodes of a cluster (the operator's)");
  nodes->add_flag("--json", *as_json, "Print the server's JSON");
  nodes->callback([options, as_json] { list_nodes(*options, *as_json); });
}

}  // namespace kumo::cli
