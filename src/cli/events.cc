// `kumo publish TOPIC [MESSAGE]`, `kumo messages TOPIC` and `kumo invocation ID`: the
// embedded topics and async invocations from the command line.
#include <fmt/format.h>

#include <iostream>
#include <iterator>

#include "cli/output.h"
#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

struct PublishArgs {
  std::string topic;
  std::string message;
  std::vector<std::string> attributes;  // k=v
};

void publish(const Options& options, const PublishArgs& args) {
  std::string body = args.message;
  if (body.empty() || body == "-") body.assign(std::istreambuf_iterator<char>(std::cin), {});
  http::Headers headers = {{"Content-Type", json::accept(body) ? "application/json"
                                                               : "text/plain"}};
  for (const auto& kv : args.attributes) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      fail(kExitUsage, fmt::format("--attr '{}': expected NAME=VALUE", kv));
    }
    headers.emplace_back("X-Kumo-Attr-" + kv.substr(0, eq), kv.substr(eq + 1));
  }
  auto session = Session::open(options);
  auto reply = session->call("POST", "/api/v1/topics/" + url_escape(args.topic), body,
                             std::move(headers));
  print_line(parse_reply(reply.body).value("message_id", ""));
}

struct MessagesArgs {
  std::string topic;
  int64_t after = 0;
  int limit = 100;
  bool json_out = false;
};

void messages(const Options& options, const MessagesArgs& args) {
  auto session = Session::open(options);
  auto reply = session->call(
      "GET", fmt::format("/api/v1/topics/{}/messages?after={}&limit={}", url_escape(args.topic),
                         args.after, args.limit));
  json j = parse_reply(reply.body);
  if (args.json_out) return print_line(j.dump(2));
  Table table({"SEQ", "PUBLISHED", "ID", "BODY"}, {Align::kRight});
  for (const auto& m : j.value("messages", json::array())) {
    std::string body = m.value("body", "");
    if (body.size() > 60) body = body.substr(0, 57) + "...";
    for (char& c : body) c = (c == '\n' || c == '\r') ? ' ' : c;
    table.add_row({std::to_string(m.value("seq", 0)), m.value("published_at", ""),
                   m.value("id", ""), body});
  }
  std::cout << table.render(Style::detect(1));
}

void invocation(const Options& options, const std::string& id, bool json_out) {
  auto session = Session::open(options);
  auto reply = session->call("GET", "/api/v1/invocations/" + url_escape(id));
  json j = parse_reply(reply.body);
  if (json_out) return print_line(j.dump(2));
  std::cout << fmt::format("{}  {}  {} of {} attempts\n", j.value("function", ""),
                           j.value("state", ""), j.value("attempts", 0),
                           j.value("max_attempts", 0));
  if (j.contains("error")) {
    std::cout << fmt::format("error: {}: {}\n", j["error"].value("type", ""),
                             j["error"].value("message", ""));
  }
  if (j.contains("next_attempt_at")) {
    std::cout << "next attempt: " << j["next_attempt_at"].get<std::string>() << "\n";
  }
  if (j.contains("result")) print_line(j["result"].dump());
}

}  // namespace

void add_event_commands(CLI::App& app, std::shared_ptr<Options> options) {
  auto pub = std::make_shared<PublishArgs>();
  auto* p = add_client_subcommand(app, "publish", "Publish a message to an embedded topic");
  p->add_option("TOPIC", pub->topic, "Topic name")->required();
  p->add_option("MESSAGE", pub->message, "Message body (default or -: read stdin)");
  p->add_option("--attr", pub->attributes, "Message attribute NAME=VALUE (repeatable)");
  p->callback([options, pub] { publish(*options, *pub); });

  auto msgs = std::make_shared<MessagesArgs>();
  auto* m = add_client_subcommand(app, "messages", "List a topic's recent messages");
  m->add_option("TOPIC", msgs->topic, "Topic name (dead-letters holds failed invocations)")
      ->required();
  m->add_option("--after", msgs->after, "Only messages after this sequence number");
  m->add_option("--limit", msgs->limit, "At most this many (1..1000)");
  m->add_flag("--json", msgs->json_out, "Print JSON");
  m->callback([options, msgs] { messages(*options, *msgs); });

  auto id = std::make_shared<std::string>();
  auto json_out = std::make_shared<bool>(false);
  auto* i = add_client_subcommand(app, "invocation", "Show an async invocation's state");
  i->add_option("REQUEST_ID", *id, "The id `kumo invoke --async` printed")->required();
  i->add_flag("--json", *json_out, "Print JSON");
  i->callback([options, id, json_out] { invocation(*options, *id, *json_out); });
}

}  // namespace kumo::cli
