// `kumo invoke NAME [-d JSON | -f FILE] [--async]`: runs a function once and prints its
// reply as it arrives.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {
namespace {

// Past the longest function timeout a spec allows (15 min), so the server decides.
constexpr auto kInvokeTimeout = std::chrono::minutes(16);

struct InvokeArgs {
  std::string name;
  std::string data;
  std::string file;
  bool async = false;
};

std::string read_payload_file(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(kExitUsage, fmt::format("cannot read payload file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string payload(const InvokeArgs& args) {
  if (!args.file.empty()) return read_payload_file(args.file);
  if (!args.data.empty()) return args.data;
  return "{}";
}

std::string content_type(const std::string& body) {
  return nlohmann::json::accept(body) ? "application/json" : "application/octet-stream";
}

void invoke_async(Session& session, const std::string& target, const std::string& body,
                  http::Headers headers) {
  headers.emplace_back("X-Kumo-Invocation-Type", "async");
  auto reply =
      session.call("POST", target, body, std::move(headers), std::chrono::seconds(60), kListHint);
  auto json = parse_reply(reply.body);
  auto id = json.find("request_id");
  if (id == json.end() || !id->is_string()) {
    fail(kExitFailed,
         fmt::format("the server accepted the invocation but sent no request_id: {}", reply.body));
  }
  print_line(id->get<std::string>());
}

void invoke(const Options& options, const InvokeArgs& args) {
  std::string body = payload(args);
  auto session = Session::open(options);
  std::string target = fmt::format("/api/v1/functions/{}/invoke", url_escape(args.name));
  http::Headers headers = {{"Content-Type", content_type(body)}};
  if (args.async) return invoke_async(*session, target, body, std::move(headers));

  char last = '\n';
  session->stream("POST", target, body, std::move(headers), kInvokeTimeout, kListHint,
                  [&last](std::string_view chunk) {
                    if (chunk.empty()) return;
                    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
                    std::fflush(stdout);  // streamed replies are read as they come
                    last = chunk.back();
                  });
  // On a terminal, end the reply's line so the prompt starts on its own; pipes get the
  // bytes exactly as the function returned them.
  if (last != '\n' && isatty(STDOUT_FILENO) == 1) print_line("");
}

}  // namespace

void add_invoke_command(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<InvokeArgs>();
  auto* sub = add_client_subcommand(app, "invoke", "Invoke a function and print its reply");
  sub->add_option("NAME", args->name, "Function name")->required();
  auto* data = sub->add_option("-d,--data", args->data, "Request body (JSON), default {}");
  auto* file =
      sub->add_option("-f,--file", args->file, "Read the request body from FILE (- is stdin)");
  data->excludes(file);
  sub->add_flag("--async", args->async, "Queue the invocation and print its request id");
  sub->callback([options, args] { invoke(*options, *args); });
}

}  // namespace kumo::cli
