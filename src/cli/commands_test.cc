// The client subcommands end to end against a real http::Server on port 0 that answers
// with canned replies in the server's contract: what is printed, what is sent, and the
// exit code a script sees.
#include "cli/commands.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "http/server.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

struct Seen {
  std::mutex mu;
  http::Request last;  // Guarded by mu.
};

struct Outcome {
  int code = 0;
  std::string out;
  std::string err;
};

// Runs `kumo ARGS...` in-process, as main() in src/server does.
Outcome run_kumo(std::vector<std::string> args) {
  CLI::App app{"kumo"};
  app.require_subcommand(1);
  add_client_commands(app);
  args.insert(args.begin(), "kumo");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  Outcome outcome;
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    outcome.code = exit_code(app, e);
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(stdout);
  outcome.out = testing::internal::GetCapturedStdout();
  outcome.err = testing::internal::GetCapturedStderr();
  return outcome;
}

class Commands : public testing::Test {
 protected:
  void SetUp() override { unsetenv("KUMO_API_KEY"); }

  // Starts the fake server with `routes`, each answering with `reply` and recording the request.
  void serve(std::vector<std::tuple<std::string, std::string, http::Response>> routes) {
    http::Router router;
    for (auto& [method, pattern, reply] : routes) {
      router.add(method, pattern, [this, reply](http::Request&& req, auto responder) {
        {
          std::lock_guard lock(seen_.mu);
          seen_.last = req;
        }
        responder->send(reply);
      });
    }
    add_streaming_routes(router);
    server_ =
        std::make_unique<http::Server>(http::ServerOptions{"127.0.0.1", 0, 1}, std::move(router));
    ASSERT_TRUE(server_->start().has_value());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void add_streaming_routes(http::Router& router) {
    router.add("POST", "/api/v1/functions/stream/invoke", [](http::Request&&, auto responder) {
      responder->start_stream(200, {{"Content-Type", "text/event-stream"}});
      responder->write_chunk("data: one\n\n");
      responder->write_chunk("data: two\n\n");
      responder->finish();
    });
  }

  http::Request last() {
    std::lock_guard lock(seen_.mu);
    return seen_.last;
  }

  Seen seen_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
};

constexpr int64_t kRecently = 1'800'000'000'000'000;

json function_list() {
  return {{"functions",
           {{{"name", "hello"},
             {"version", 3},
             {"runtime", "python3"},
             {"memory_mb", 128},
             {"instances", {{"total", 2}, {"busy", 1}, {"idle", 1}}},
             {"created_at_us", kRecently}}}}};
}

TEST_F(Commands, LsPrintsATableOfFunctions) {
  serve({{"GET", "/api/v1/functions", http::json_response(200, function_list())}});
  auto r = run_kumo({"ls", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("NAME   VERSION  RUNTIME  MEMORY  INSTANCES   DEPLOYED"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("hello        3  python3  128 MB  2 (1 busy)"), std::string::npos) << r.out;
}

TEST_F(Commands, LsJsonPrintsTheServersJson) {
  serve({{"GET", "/api/v1/functions", http::json_response(200, function_list())}});
  auto r = run_kumo({"--url", url_, "ls", "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), function_list());
}

TEST_F(Commands, UnknownFunctionSaysWhatToDoAndExitsOne) {
  serve({{"GET", "/api/v1/functions/{name}",
          http::error_response(404, "not_found", "function 'resize' not found")}});
  auto r = run_kumo({"describe", "resize", "--url", url_});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: function 'resize' not found; `kumo ls` lists the deployed ones\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(Commands, UnreachableServerExitsThreeWithAHint) {
  serve({});
  int port = server_->port();
  server_->stop();
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto r = run_kumo({"ls", "--url", url});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err, "error: cannot reach Kumo at " + url +
                       "; start it with `kumo serve` (or set KUMO_URL)\n");
}

TEST_F(Commands, InvokeSendsTheDataAndPrintsTheReplyAsIs) {
  serve({{"POST", "/api/v1/functions/{name}/invoke",
          http::Response{200, {{"Content-Type", "application/json"}}, R"({"greeting":"hi"})"}}});
  auto r = run_kumo({"invoke", "hello", "-d", R"({"who":"kumo"})", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, R"({"greeting":"hi"})");
  EXPECT_EQ(last().body, R"({"who":"kumo"})");
  EXPECT_EQ(last().header("Content-Type"), "application/json");
}

TEST_F(Commands, InvokeSendsAnEmptyObjectByDefault) {
  serve({{"POST", "/api/v1/functions/{name}/invoke", http::json_response(200, json::object())}});
  auto r = run_kumo({"invoke", "hello", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(last().body, "{}");
}

TEST_F(Commands, InvokePrintsAStreamedReply) {
  serve({});
  auto r = run_kumo({"invoke", "stream", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "data: one\n\ndata: two\n\n");
}

TEST_F(Commands, InvokeOfAFailingFunctionPrintsItsErrorAndExitsOne) {
  serve({{"POST", "/api/v1/functions/{name}/invoke",
          http::error_response(502, "function_failed", "ZeroDivisionError: division by zero")}});
  auto r = run_kumo({"invoke", "hello", "--url", url_});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: ZeroDivisionError: division by zero\n");
}

TEST_F(Commands, InvokeAsyncPrintsTheRequestId) {
  serve({{"POST", "/api/v1/functions/{name}/invoke",
          http::json_response(202, {{"request_id", "req-123"}})}});
  auto r = run_kumo({"invoke", "hello", "--async", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "req-123\n");
  EXPECT_EQ(last().header("X-Kumo-Invocation-Type"), "async");
}

TEST_F(Commands, InvokeReadsTheBodyFromAFile) {
  serve({{"POST", "/api/v1/functions/{name}/invoke", http::json_response(200, json::object())}});
  auto path = std::filesystem::path(testing::TempDir()) / "payload.bin";
  std::ofstream(path) << "raw bytes";
  auto r = run_kumo({"invoke", "hello", "-f", path.string(), "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(last().body, "raw bytes");
  EXPECT_EQ(last().header("Content-Type"), "application/octet-stream");
}

TEST_F(Commands, DataAndFileTogetherIsAUsageError) {
  auto r = run_kumo({"invoke", "hello", "-d", "{}", "-f", "x.json"});
  EXPECT_EQ(r.code, 2);
}

TEST_F(Commands, UnknownFlagIsAUsageError) {
  auto r = run_kumo({"ls", "--bogus"});
  EXPECT_EQ(r.code, 2);
}

TEST_F(Commands, BadSinceIsAUsageErrorNamingTheForms) {
  auto r = run_kumo({"usage", "--since", "yesterday", "--url", "http://127.0.0.1:1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("write e.g. 30m, 1h, 7d"), std::string::npos) << r.err;
}

TEST_F(Commands, UsageAsksForThePeriodAndPrintsCosts) {
  json reply = {
      {"since_us", kRecently},
      {"functions", {{{"function", "hello"}, {"invocations", 7}, {"cost_usd", 0.000123}}}},
      {"total", {{"invocations", 7}, {"cost_usd", 0.000123}}}};
  serve({{"GET", "/api/v1/usage", http::json_response(200, reply)}});
  auto r = run_kumo({"usage", "--since", "2026-11-26", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(last().query_param("since_us"), "1795651200000000");
  EXPECT_NE(r.out.find("$0.000123"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TOTAL"), std::string::npos) << r.out;
}

TEST_F(Commands, UsageForOneTenantSendsItsName) {
  json reply = {{"since_us", kRecently}, {"functions", json::array()}, {"total", json::object()}};
  serve({{"GET", "/api/v1/usage", http::json_response(200, reply)}});
  auto r = run_kumo({"usage", "--tenant", "acme", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(last().query_param("tenant"), "acme");
}

TEST_F(Commands, TenantsCreateListAndRemove) {
  serve({{"POST", "/api/v1/tenants",
          http::json_response(201, {{"name", "acme"}, {"created_us", kRecently}})},
         {"GET", "/api/v1/tenants",
          http::json_response(200, {{"tenants",
                                     {{{"name", "acme"},
                                       {"functions", 2},
                                       {"created_us", kRecently}},
                                      {{"name", "default"}, {"functions", 0},
                                       {"created_us", kRecently}}}}})},
         {"DELETE", "/api/v1/tenants/{name}",
          http::json_response(200, {{"name", "acme"}, {"deleted", true}, {"revoked_keys", 3}})}});
  auto made = run_kumo({"tenants", "create", "acme", "--url", url_});
  EXPECT_EQ(made.code, 0) << made.err;
  EXPECT_EQ(made.out, "created tenant acme\n");
  EXPECT_EQ(json::parse(last().body), json({{"name", "acme"}}));
  auto ls = run_kumo({"tenants", "ls", "--url", url_});
  EXPECT_EQ(ls.code, 0) << ls.err;
  EXPECT_NE(ls.out.find("NAME"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("acme"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("default"), std::string::npos) << ls.out;
  auto rm = run_kumo({"tenants", "rm", "acme", "--url", url_});
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.out, "removed tenant acme (3 key(s) revoked)\n");
  EXPECT_EQ(last().params.at("name"), "acme");
}

TEST_F(Commands, RmRemovesAndConfirms) {
  serve({{"DELETE", "/api/v1/functions/{name}", http::json_response(200, json::object())}});
  auto r = run_kumo({"rm", "hello", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "removed hello\n");
  EXPECT_EQ(last().params.at("name"), "hello");
}

TEST_F(Commands, LogsAsksForTheTailAndFollows) {
  serve({{"GET", "/api/v1/functions/{name}/logs",
          http::Response{200, {{"Content-Type", "text/plain"}}, "line 1\nline 2\n"}}});
  auto r = run_kumo({"logs", "hello", "--tail", "5", "-f", "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "line 1\nline 2\n");
  EXPECT_EQ(last().query_param("tail"), "5");
  EXPECT_EQ(last().query_param("follow"), "1");
}

TEST_F(Commands, SendsTheApiKeyAsABearerToken) {
  serve({{"GET", "/api/v1/functions", http::json_response(200, function_list())}});
  setenv("KUMO_API_KEY", "s3cret", 1);
  auto r = run_kumo({"ls", "--url", url_});
  unsetenv("KUMO_API_KEY");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(last().header("Authorization"), "Bearer s3cret");
}

TEST_F(Commands, DeployUploadsThePackageAndReportsTheVersion) {
  serve(
      {{"POST", "/api/v1/functions",
        http::json_response(201, {{"name", "hello"}, {"version", 3}, {"sha256", "ab12cd34ef"}})}});
  auto dir = std::filesystem::path(testing::TempDir()) / "cli-deploy-hello";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "kumo.yaml") << "name: hello\nruntime: python3\nhandler: main.handle\n";
  std::ofstream(dir / "main.py") << "def handle(event, context):\n    return event\n";
  auto r = run_kumo({"deploy", dir.string(), "--url", url_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("deployed hello version 3 (", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("B, sha256 ab12cd34)\n"), std::string::npos) << r.out;
  EXPECT_EQ(last().header("Content-Type"), "application/gzip");
  EXPECT_EQ(last().body.substr(0, 2), "\x1f\x8b");  // gzip magic
}

TEST_F(Commands, VersionFlagAndCommandPrintTheProjectVersion) {
  for (auto args : {std::vector<std::string>{"--version"}, std::vector<std::string>{"version"}}) {
    auto r = run_kumo(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "kumo " KUMO_PROJECT_VERSION "\n") << args[0];
  }
}

TEST_F(Commands, MistypedCommandSuggestsTheNearestInOneLine) {
  auto r = run_kumo({"lss"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "error: 'lss' is not a `kumo` command; did you mean `kumo ls`?\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(Commands, MistypedTableCommandSuggestsTheNearestTableCommand) {
  auto r = run_kumo({"table", "qeury", "readings"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "error: 'qeury' is not a `kumo table` command; did you mean `kumo table query`?\n");
}

TEST_F(Commands, WordFarFromEveryCommandPointsAtHelp) {
  auto r = run_kumo({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "error: 'frobnicate' is not a `kumo` command; `kumo --help` lists them\n");
}

TEST_F(Commands, TableSummaryNamesEveryTableCommand) {
  CLI::App app{"kumo"};
  add_client_commands(app);
  CLI::App* table = app.get_subcommand("table");
  for (const CLI::App* sub : table->get_subcommands([](const CLI::App*) { return true; })) {
    EXPECT_NE(table->get_description().find(" " + sub->get_name()), std::string::npos)
        << sub->get_name() << " is missing from: " << table->get_description();
  }
}

TEST_F(Commands, DeployOfAMissingFolderIsAUsageError) {
  auto r = run_kumo({"deploy", "/nonexistent/folder"});
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace kumo::cli
