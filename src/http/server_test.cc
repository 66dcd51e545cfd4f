// A real Server on port 0 driven by the real Client (and a raw socket where the Client is
// too well-behaved to produce the bytes under test).
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "http/client.h"
#include "http/testing/raw_socket.h"

namespace kumo::http {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Server> start_server(Router router, int threads = 2) {
  auto server = std::make_unique<Server>(ServerOptions{"127.0.0.1", 0, threads}, std::move(router));
  auto started = server->start();
  EXPECT_TRUE(started.has_value()) << started.error().message;
  return server;
}

Client client_for(const Server& server) { return Client(Endpoint{"127.0.0.1", server.port()}); }

// Sends raw bytes and reads until the server closes (or 10 s pass).
std::string raw_exchange(int port, const std::string& bytes) {
  int fd = testing::connect_raw(port, std::chrono::seconds(10));
  EXPECT_TRUE(testing::send_all(fd, bytes));
  std::string out = testing::read_until(fd, "");
  ::close(fd);
  return out;
}

Handler echo_port() {
  return [](Request&& req, std::shared_ptr<Responder> r) {
    r->send(json_response(200, {{"port", req.remote_port}, {"body", req.body}}));
  };
}

TEST(Server, KeepAliveServesManyRequestsOnOneConnection) {
  Router router;
  router.add("POST", "/echo", echo_port());
  auto server = start_server(std::move(router));
  auto client = client_for(*server);
  std::set<int> ports;
  for (int i = 0; i < 50; ++i) {
    auto res = client.request("POST", "/echo", "hello " + std::to_string(i));
    ASSERT_TRUE(res.has_value()) << res.error().message;
    ASSERT_EQ(res->status, 200);
    auto body = nlohmann::json::parse(res->body);
    EXPECT_EQ(body["body"], "hello " + std::to_string(i));
    ports.insert(body["port"].get<int>());
  }
  EXPECT_EQ(ports.size(), 1u);
}

TEST(Server, PassesMethodPathQueryHeadersAndParams) {
  Router router;
  router.add("*", "/fn/{name}/{path...}", [](Request&& req, std::shared_ptr<Responder> r) {
    r->send(json_response(200, {{"method", req.method},
                                {"path", req.path},
                                {"name", req.params["name"]},
                                {"rest", req.params["path"]},
                                {"q", req.query_param("q")},
                                {"h", req.header("x-thing")}}));
  });
  auto server = start_server(std::move(router));
  auto client = client_for(*server);
  auto res = client.request("PATCH", "/fn/web/a/b?q=x%20y", "", {{"X-Thing", "42"}});
  ASSERT_TRUE(res.has_value()) << res.error().message;
  auto body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["method"], "PATCH");
  EXPECT_EQ(body["path"], "/fn/web/a/b");
  EXPECT_EQ(body["name"], "web");
  EXPECT_EQ(body["rest"], "a/b");
  EXPECT_EQ(body["q"], "x y");
  EXPECT_EQ(body["h"], "42");
}

TEST(Server, UnknownPathAndWrongMethodGetJsonErrors) {
  Router router;
  router.add("GET", "/healthz", [](Request&&, std::shared_ptr<Responder> r) { r->send({}); });
  auto server = start_server(std::move(router));
  auto client = client_for(*server);
  auto missing = client.request("GET", "/nope");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->header("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["type"], "not_found");
  auto wrong = client.request("POST", "/healthz", "x");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->header("allow"), "GET");
  EXPECT_TRUE(nlohmann::json::parse(wrong->body)["error"].contains("message"));
  auto head = client.request("HEAD", "/healthz");
  ASSERT_TRUE(head.has_value()) << head.error().message;
  EXPECT_EQ(head->status, 200);
}

TEST(Server, HeadKeepsTheContentLengthAHandlerStates) {
  Router router;
  router.add("GET", "/object", [](Request&&, std::shared_ptr<Responder> r) {
    r->send(Response{200, {{"Content-Length", "1048576"}}, ""});
  });
  auto server = start_server(std::move(router));
  auto client = client_for(*server);
  auto head = client.request("HEAD", "/object");
  ASSERT_TRUE(head.has_value()) << head.error().message;
  EXPECT_EQ(head->header("content-length"), "1048576");
  EXPECT_EQ(head->body, "");
  // The connection is still usable: nothing of a body was expected.
  auto again = client.request("HEAD", "/object");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->status, 200);
}

TEST(Server, ErrorResponseCarriesRequestId) {
  auto r = error_response(504, "timeout", "function 'x' timed out after 30 s", "req-1");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(body["error"]["type"], "timeout");
  EXPECT_EQ(body["error"]["request_id"], "req-1");
  EXPECT_FALSE(
      nlohmann::json::parse(error_response(400, "a", "b").body)["error"].contains("request_id"));
}

TEST(Server, OversizeBodyGets413AndTheServerStaysUsable) {
  Router router;
  router.add("POST", "/small", echo_port(), 1024);
  router.add("POST", "/big", echo_port());
  auto server = start_server(std::move(router));
  auto client = client_for(*server);
  auto res = client.request("POST", "/small", std::string(64 * 1024, 'x'));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 413);
  auto error = nlohmann::json::parse(res->body)["error"];
  EXPECT_EQ(error["type"], "too_large");
  EXPECT_NE(error["message"].get<std::string>().find("MB"), std::string::npos);
  auto fresh = client_for(*server);
  auto ok = fresh.request("POST", "/small", "tiny");
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  auto big = fresh.request("POST", "/big", std::string(2 * 1024 * 1024, 'y'));
  ASSERT_TRUE(big.has_value()) << big.error().message;
  EXPECT_EQ(big->status, 200);
}

TEST(Server, OversizeChunkedBodyGets413) {
  Router router;
  router.add("POST", "/small", echo_port(), 1024);
  auto server = start_server(std::move(router));
  std::string chunk(2000, 'z');
  auto reply = raw_exchange(
      server->port(), "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          std::string("7d0\r\n") + chunk + "\r\n0\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply;
  EXPECT_NE(reply.find("too_large"), std::string::npos);
}

TEST(Server, MalformedRequestGets400) {
  Router router;
  router.add("GET", "/", [](Request&&, std::shared_ptr<Responder> r) { r->send({}); });
  auto server = start_server(std::move(router));
  auto reply = raw_exchange(server->port(), "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  EXPECT_NE(reply.find("bad_request"), std::string::npos);
}

TEST(Server, AQuietStreamSeesTheClientLeave) {
  std::promise<std::shared_ptr<Responder>> parked;
  Router router;
  router.add("GET", "/follow", [&parked](Request&&, std::shared_ptr<Responder> r) {
    r->start_stream(200, {{"Content-Type", "text/plain"}});
    parked.set_value(std::move(r));  // a follower with nothing to write yet
  });
  auto server = start_server(std::move(router));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req = "GET /follow HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  auto responder = parked.get_future().get();
  EXPECT_FALSE(responder->closed());
  ::close(fd);
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {  // the FIN arrives asynchronously
    seen = responder->closed();
    if (!seen) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(seen);
}

TEST(Server, HandlerMayAnswerLaterFromAnotherThread) {
  std::promise<std::shared_ptr<Responder>> parked;
  Router router;
  router.add("GET", "/later", [&parked](Request&&, std::shared_ptr<Responder> r) {
    parked.set_value(std::move(r));  // answer after this handler returned
  });
  auto server = start_server(std::move(router));
  auto pending = std::async(std::launch::async, [&] {
    auto client = client_for(*server);
    return client.request("GET", "/later");
  });
  auto responder = parked.get_future().get();
  std::thread([responder] { responder->send({201, {{"X-From", "worker"}}, "done"}); }).join();
  auto res = pending.get();
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->header("x-from"), "worker");
  EXPECT_EQ(res->body, "done");
}

TEST(Server, DroppedResponderAnswers500AndSecondAnswerIsIgnored) {
  Router router;
  router.add("GET", "/drop", [](Request&&, std::shared_ptr<Responder>) {});
  router.add("GET", "/twice", [](Request&&, std::shared_ptr<Responder> r) {
    r->send({200, {}, "first"});
    r->send({500, {}, "second"});
  });
  auto server = start_server(std::move(router));
  auto client = client_for(*server);
  auto dropped = client.request("GET", "/drop");
  ASSERT_TRUE(dropped.has_value()) << dropped.error().message;
  EXPECT_EQ(dropped->status, 500);
  auto twice = client.request("GET", "/twice");
  ASSERT_TRUE(twice.has_value());
  EXPECT_EQ(twice->body, "first");
  auto again = client.request("GET", "/twice");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body, "first");
}

}  // namespace
}  // namespace kumo::http
