// `kumo table create|ls|drop|put|get|rm|query`: the embedded tables from the command line,
// over /api/v1/tables.
#include <fmt/format.h>

#include <iostream>
#include <iterator>

#include "cli/output.h"
#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

struct TableArgs {
  std::string name;
  std::string key;
  std::string item;  // JSON text, or "-" for stdin
  std::string prefix;
  int limit = 0;  // 0: every item
  bool json = false;
};

std::string table_path(const std::string& name) { return "/api/v1/tables/" + url_escape(name); }

std::string item_path(const std::string& name, const std::string& key) {
  return table_path(name) + "/items/" + url_escape(key);
}

void create(const Options& options, const TableArgs& args) {
  auto reply = Session::open(options)->call("PUT", table_path(args.name));
  if (args.json) return print_line(reply.body);
  bool created = parse_reply(reply.body).value("created", false);
  print_line(created ? fmt::format("created table {}", args.name)
                     : fmt::format("table {} already exists", args.name));
}

void drop(const Options& options, const TableArgs& args) {
  auto reply = Session::open(options)->call("DELETE", table_path(args.name));
  if (args.json) return print_line(reply.body);
  print_line(fmt::format("deleted table {} ({} items)", args.name,
                         parse_reply(reply.body).value("deleted_items", 0)));
}

void list(const Options& options, const TableArgs& args) {
  auto reply = Session::open(options)->call("GET", "/api/v1/tables");
  if (args.json) return print_line(reply.body);
  Table table({"NAME", "SOURCE", "ITEMS"}, {Align::kLeft, Align::kLeft, Align::kRight});
  for (const json& t : parse_reply(reply.body).value("tables", json::array())) {
    bool postgres = t.value("source", "") == "postgres";
    table.add_row({t.value("name", ""),
                   postgres ? "postgres " + t.value("postgres_table", "") : "embedded",
                   postgres ? "-" : std::to_string(t.value("items", 0))});
  }
  std::cout << table.render(Style::detect(1));
}

void put(const Options& options, const TableArgs& args) {
  std::string body = args.item;
  if (body == "-") body.assign(std::istreambuf_iterator<char>(std::cin), {});
  auto reply = Session::open(options)->call("PUT", item_path(args.name, args.key), body,
                                            {{"Content-Type", "application/json"}});
  if (args.json) return print_line(reply.body);
  json r = parse_reply(reply.body);
  const char* what = r.value("created", false)  ? "created"
                     : r.value("changed", true) ? "updated"
                                                : "unchanged";
  print_line(fmt::format("{} {} in {}", what, args.key, args.name));
}

void get(const Options& options, const TableArgs& args) {
  auto reply = Session::open(options)->call("GET", item_path(args.name, args.key));
  if (args.json) return print_line(reply.body);
  print_line(parse_reply(reply.body).value("item", json::object()).dump(2));
}

void remove_item(const Options& options, const TableArgs& args) {
  Session::open(options)->call("DELETE", item_path(args.name, args.key));
  print_line(fmt::format("removed {} from {}", args.key, args.name));
}

// Follows the pages until the end or --limit items.
void query(const Options& options, const TableArgs& args) {
  auto session = Session::open(options);
  json items = json::array();
  json next;
  do {
    int want = args.limit > 0 ? std::min(1000, args.limit - static_cast<int>(items.size())) : 1000;
    std::string target = fmt::format("{}/items?limit={}&prefix={}", table_path(args.name), want,
                                     url_escape(args.prefix));
    if (next.is_string()) target += "&after=" + url_escape(next.get<std::string>());
    json page = parse_reply(session->call("GET", target).body);
    for (auto& item : page.value("items", json::array())) items.push_back(std::move(item));
    next = page.value("next", json());
  } while (next.is_string() && (args.limit == 0 || static_cast<int>(items.size()) < args.limit));
  if (args.json) {
    return print_line(json({{"table", args.name}, {"items", items}, {"next", next}}).dump());
  }
  Table table({"KEY", "ITEM"});
  for (const json& item : items) {
    table.add_row({item.value("key", ""), item.value("item", json::object()).dump()});
  }
  std::cout << table.render(Style::detect(1));
}

using Action = void (*)(const Options&, const TableArgs&);

CLI::App* add_action(CLI::App& parent, std::shared_ptr<Options> options,
                     std::shared_ptr<TableArgs> args, const std::string& name,
                     const std::string& description, Action action) {
  auto* sub = add_client_subcommand(parent, name, description);
  sub->callback([options, args, action] { action(*options, *args); });
  return sub;
}

}  // namespace

void add_tables_commands(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<TableArgs>();
  auto* table =
      add_client_subcommand(app, "table", "Embedded tables: create, ls, drop, put, get, rm, query");
  table->require_subcommand(1);
  auto name_arg = [&](CLI::App* sub) { sub->add_option("NAME", args->name, "Table")->required(); };
  auto key_arg = [&](CLI::App* sub) { sub->add_option("KEY", args->key, "Item key")->required(); };
  auto json_flag = [&](CLI::App* sub) {
    sub->add_flag("--json", args->json, "Print the server's JSON");
  };

  auto* create_cmd = add_action(*table, options, args, "create", "Create a table", create);
  name_arg(create_cmd);
  json_flag(create_cmd);
  auto* ls_cmd = add_action(*table, options, args, "ls", "List the tables", list);
  json_flag(ls_cmd);
  auto* drop_cmd = add_action(*table, options, args, "drop", "Delete a table and its items", drop);
  name_arg(drop_cmd);
  json_flag(drop_cmd);

  auto* put_cmd = add_action(*table, options, args, "put", "Write an item (a JSON object)", put);
  name_arg(put_cmd);
  key_arg(put_cmd);
  put_cmd->add_option("JSON", args->item, "The item as a JSON object, or - to read stdin")
      ->required();
  json_flag(put_cmd);
  auto* get_cmd = add_action(*table, options, args, "get", "Print an item", get);
  name_arg(get_cmd);
  key_arg(get_cmd);
  json_flag(get_cmd);
  auto* rm_cmd = add_action(*table, options, args, "rm", "Delete an item", remove_item);
  name_arg(rm_cmd);
  key_arg(rm_cmd);

  auto* query_cmd = add_action(*table, options, args, "query", "List items in key order", query);
  name_arg(query_cmd);
  query_cmd->add_option("--prefix", args->prefix, "Only keys that start with this");
  query_cmd->add_option("--limit", args->limit, "At most this many items (default: all)")
      ->check(CLI::NonNegativeNumber);
  query_cmd->add_flag("--json", args->json, "Print the items as JSON");
}

}  // namespace kumo::cli
