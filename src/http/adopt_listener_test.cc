// Server::adopt_listener with real sockets: a listening socket made by the test is served with
// the server's router and limits until its handle is released.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "http/testing/raw_socket.h"

namespace kumo::http {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Server> start_server(const ConnectionLimits& limits = {}) {
  Router router;
  router.add("GET", "/hello", [](Request&&, std::shared_ptr<Responder> r) {
    r->send({200, {}, "hi"});
  });
  ServerOptions options("127.0.0.1", 0, 2);
  options.limits = limits;
  auto server = std::make_unique<Server>(options, std::move(router));
  auto started = server->start();
  EXPECT_TRUE(started.has_value()) << started.error().message;
  return server;
}

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// A socket bound to a free port of 127.0.0.1, listening when `listening`.
int bound_socket(bool listening = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(0);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << errno;
  if (listening) {
    EXPECT_EQ(::listen(fd, 128), 0) << errno;
  }
  return fd;
}

int port_of(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return ntohs(addr.sin_port);
}

// 0 when 127.0.0.1:port accepts a connection, else the errno.
int try_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(port);
  int err = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

bool eventually(const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + 20s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST(AdoptListener, ServesRequestsOnTheAdoptedSocketWithTheServersRouter) {
  auto server = start_server();
  int fd = bound_socket();
  int port = port_of(fd);
  auto handle = server->adopt_listener(fd);
  ASSERT_TRUE(handle) << handle.error().message;
  Client adopted(Endpoint{"127.0.0.1", port});
  for (int i = 0; i < 3; ++i) {
    auto res = adopted.request("GET", "/hello");
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "hi");
  }
  EXPECT_EQ(adopted.request("GET", "/nope").value().status, 404);
  Client own(Endpoint{"127.0.0.1", server->port()});
  EXPECT_EQ(own.request("GET", "/hello").value().status, 200);
}

TEST(AdoptListener, ReleasingTheHandleRefusesNewConnectionsAndKeepsOpenOnes) {
  auto server = start_server();
  int fd = bound_socket();
  int port = port_of(fd);
  auto handle = server->adopt_listener(fd);
  ASSERT_TRUE(handle) << handle.error().message;
  Client kept(Endpoint{"127.0.0.1", port});
  ASSERT_EQ(kept.request("GET", "/hello").value().status, 200);
  handle->reset();
  EXPECT_EQ(try_connect(port), ECONNREFUSED);
  // The kept-alive connection was accepted before: it is still served (a new one would be
  // refused, so the client did not reconnect).
  auto again = kept.request("GET", "/hello");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->status, 200);
  Client own(Endpoint{"127.0.0.1", server->port()});
  EXPECT_EQ(own.request("GET", "/hello").value().status, 200);
}

TEST(AdoptListener, AdoptedConnectionsCountAgainstTheSameCap) {
  ConnectionLimits limits;
  limits.max_connections = 1;
  limits.header_timeout = std::chrono::hours(1);  // the held connection sends nothing
  auto server = start_server(limits);
  int fd = bound_socket();
  int port = port_of(fd);
  auto handle = server->adopt_listener(fd);
  ASSERT_TRUE(handle) << handle.error().message;
  int held = testing::connect_raw(server->port(), 20s);
  ASSERT_TRUE(eventually([&] { return server->stats().open_connections == 1; }));
  int over = testing::connect_raw(port, 20s);
  std::string reply = testing::read_until(over, "}}");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503")) << reply;
  EXPECT_EQ(server->stats().refused_connections, 1);
  ::close(over);
  ::close(held);
}

// A listener's own cap: its connections past it get the 503, while the server's own listener
// still serves; a closed one frees its slot.
TEST(AdoptListener, AListenersOwnCapLeavesTheRestOfTheServerServing) {
  ConnectionLimits limits;
  limits.header_timeout = std::chrono::hours(1);  // the held connections send nothing
  auto server = start_server(limits);
  int fd = bound_socket();
  int port = port_of(fd);
  auto handle = server->adopt_listener(fd, nullptr, 2);
  ASSERT_TRUE(handle) << handle.error().message;
  int first = testing::connect_raw(port, 20s);
  int second = testing::connect_raw(port, 20s);
  ASSERT_TRUE(eventually([&] { return server->stats().open_connections == 2; }));
  int over = testing::connect_raw(port, 20s);
  std::string reply = testing::read_until(over, "}}");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503")) << reply;
  ::close(over);
  Client own(Endpoint{"127.0.0.1", server->port()});
  EXPECT_EQ(own.request("GET", "/hello").value().status, 200);
  ::close(first);
  ASSERT_TRUE(eventually([&] { return server->stats().open_connections == 2; }));  // own + 1
  Client adopted(Endpoint{"127.0.0.1", port});
  auto res = adopted.request("GET", "/hello");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
  ::close(second);
}

TEST(AdoptListener, RejectsASocketThatDoesNotListenAndAServerThatDoesNotRun) {
  auto server = start_server();
  auto bad = server->adopt_listener(bound_socket(/*listening=*/false));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  Server idle(ServerOptions{"127.0.0.1", 0, 1}, Router{});
  auto early = idle.adopt_listener(bound_socket());
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kUnavailable);
}

TEST(AdoptListener, StopClosesAdoptedListenersAndAHandleMayOutliveTheServer) {
  auto server = start_server();
  int fd = bound_socket();
  int port = port_of(fd);
  auto handle = server->adopt_listener(fd);
  ASSERT_TRUE(handle) << handle.error().message;
  Client client(Endpoint{"127.0.0.1", port});
  ASSERT_EQ(client.request("GET", "/hello").value().status, 200);
  server->stop();  // returns: the adopted acceptor does not keep its thread running
  EXPECT_EQ(try_connect(port), ECONNREFUSED);
  server.reset();
  handle->reset();
}

}  // namespace
}  // namespace kumo::http
