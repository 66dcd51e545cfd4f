// ConnectionLimits on a real Server on port 0: timeouts, the connection cap, the body budget
// and the accept loop's pause when descriptors run out. Deadlines are short so the tests are
// quick, and every wait for the server is a poll with a generous limit, never a bet on speed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "http/server.h"
#include "http/testing/raw_socket.h"

namespace kumo::http {
namespace {

using namespace std::chrono_literals;

constexpr auto kPatience = 20s;  // how long a test waits for what must happen

std::unique_ptr<Server> start_server(Router router, const ConnectionLimits& limits,
                                     int threads = 2) {
  ServerOptions options("127.0.0.1", 0, threads);
  options.limits = limits;
  auto server = std::make_unique<Server>(options, std::move(router));
  auto started = server->start();
  EXPECT_TRUE(started.has_value()) << started.error().message;
  return server;
}

Router hello_router() {
  Router router;
  router.add("GET", "/hello", [](Request&&, std::shared_ptr<Responder> r) {
    r->send({200, {}, "hi"});
  });
  return router;
}

int connect_raw(int port, int receive_buffer = 0) {
  return testing::connect_raw(port, std::chrono::duration_cast<std::chrono::seconds>(kPatience),
                              receive_buffer);
}

using testing::read_until;
using testing::send_all;

// True once the server closed the connection (end of stream or reset) within kPatience;
// false when it stayed open that long. Whatever the server still sends is read and dropped.
bool server_closes(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;  // EAGAIN: the receive timeout passed
  }
}

bool eventually(const std::function<bool()>& condition) {
  auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(ServerLimits, HeaderTimeoutDisconnectsAClientThatSendsHalfAHeader) {
  ConnectionLimits limits;
  limits.header_timeout = 200ms;
  auto server = start_server(hello_router(), limits);
  int fd = connect_raw(server->port());
  ASSERT_TRUE(send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(server_closes(fd));
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return server->stats().open_connections == 0; }));
}

TEST(ServerLimits, HeaderTimeoutCountsTheWholeHeaderNotEachByte) {
  ConnectionLimits limits;
  limits.header_timeout = 300ms;
  auto server = start_server(hello_router(), limits);
  int fd = connect_raw(server->port());
  // A byte every 20 ms would keep a per-read timeout from ever firing; the header's fires.
  std::string endless = "GET /hello HTTP/1.1\r\nX-Slow: " + std::string(100'000, 'a');
  bool cut = false;
  auto give_up = std::chrono::steady_clock::now() + kPatience;
  for (size_t i = 0; i < endless.size() && !cut; ++i) {
    if (std::chrono::steady_clock::now() > give_up) break;
    cut = !send_all(fd, endless.substr(i, 1));  // fails once the server has closed
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(cut);
  ::close(fd);
}

TEST(ServerLimits, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  ConnectionLimits limits;
  limits.idle_timeout = 300ms;
  auto server = start_server(hello_router(), limits);
  int fd = connect_raw(server->port());
  ASSERT_TRUE(send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string reply = read_until(fd, "\r\n\r\nhi");
  ASSERT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_TRUE(server_closes(fd));
  ::close(fd);
}

TEST(ServerLimits, HeaderTimeoutDoesNotApplyWhileAKeptAliveConnectionIsIdle) {
  ConnectionLimits limits;
  limits.header_timeout = 200ms;
  limits.idle_timeout = 60s;
  auto server = start_server(hello_router(), limits);
  int fd = connect_raw(server->port());
  ASSERT_TRUE(send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(read_until(fd, "\r\n\r\nhi").starts_with("HTTP/1.1 200"));
  std::this_thread::sleep_for(600ms);  // three header timeouts, idle
  ASSERT_TRUE(send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(read_until(fd, "\r\n\r\nhi").starts_with("HTTP/1.1 200"));
  ::close(fd);
}

TEST(ServerLimits, BodyTimeoutClosesAConnectionWhoseBodyStalls) {
  ConnectionLimits limits;
  limits.body_timeout = 300ms;
  Router router;
  router.add("POST", "/in", [](Request&&, std::shared_ptr<Responder> r) { r->send({}); });
  auto server = start_server(std::move(router), limits);
  int fd = connect_raw(server->port());
  ASSERT_TRUE(
      send_all(fd, "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
  EXPECT_TRUE(server_closes(fd));
  ::close(fd);
}

TEST(ServerLimits, SendTimeoutClosesAConnectionWhoseClientStopsReading) {
  ConnectionLimits limits;
  limits.send_timeout = 300ms;
  Router router = hello_router();
  // More than the loopback's socket buffers take, so the write waits on the client.
  std::string big(16 << 20, 'x');
  std::atomic<bool> answered{false};
  router.add("GET", "/big", [&](Request&&, std::shared_ptr<Responder> r) {
    r->send({200, {}, big});
    answered = true;
  });
  auto server = start_server(std::move(router), limits);
  int fd = connect_raw(server->port(), 16 * 1024);
  ASSERT_TRUE(send_all(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return answered.load(); }));
  EXPECT_TRUE(eventually([&] { return server->stats().open_connections == 0; }));
  EXPECT_TRUE(server_closes(fd));  // reading only now: the answer is cut short
  ::close(fd);

  int other = connect_raw(server->port());
  ASSERT_TRUE(send_all(other, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(read_until(other, "\r\n\r\nhi").starts_with("HTTP/1.1 200"));
  ::close(other);
}

// Handlers that answer from threads of their own, as a function's instance does from its I/O
// thread; counts the answers begun and the send() calls that returned.
struct ThreadedAnswers {
  std::mutex mu;
  std::vector<std::thread> threads;  // Guarded by mu.
  std::atomic<int> started{0};
  std::atomic<int> returned{0};

  void join() {
    std::vector<std::thread> done;
    {
      std::lock_guard lock(mu);
      done.swap(threads);
    }
    for (auto& t : done) t.join();
  }
};

TEST(ServerLimits, AnswerFromAnotherThreadNeverBlocksOnAClientThatDoesNotRead) {
  auto answers = std::make_shared<ThreadedAnswers>();
  Router router;
  router.add("GET", "/answer", [answers](Request&&, std::shared_ptr<Responder> r) {
    answers->started++;
    std::lock_guard lock(answers->mu);
    answers->threads.emplace_back([answers, r = std::move(r)] {
      r->send({200, {}, std::string(60 * 1024, 'x')});
      answers->returned++;
    });
  });
  auto server = start_server(std::move(router), ConnectionLimits{});
  int fd = connect_raw(server->port(), 4 * 1024);
  std::string pipelined;
  for (int i = 0; i < 300; ++i) pipelined += "GET /answer HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(send_all(fd, pipelined));
  // The server answers until the socket buffers are full, then waits on the client. Every
  // send() must have returned by then: none may sit in a blocking write.
  int last = -1;
  auto quiet_since = std::chrono::steady_clock::now();
  bool settled = eventually([&] {
    int started = answers->started.load();
    auto now = std::chrono::steady_clock::now();
    if (started != last) {
      last = started;
      quiet_since = now;
    }
    return started > 0 && answers->returned.load() == started && now - quiet_since > 2s;
  });
  EXPECT_TRUE(settled) << answers->returned.load() << " of " << answers->started.load()
                       << " send() calls returned";
  EXPECT_LT(answers->started.load(), 300);  // the client's not reading did hold the server up
  ::close(fd);  // resets the connection: a write still blocked on it fails
  server->stop();
  answers->join();
}

TEST(ServerLimits, ConnectionCapAnswers503ToTheConnectionOverIt) {
  ConnectionLimits limits;
  limits.max_connections = 3;
  limits.header_timeout = std::chrono::hours(1);  // the held connections send nothing
  auto server = start_server(hello_router(), limits);
  EXPECT_EQ(server->stats().max_connections, 3);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(connect_raw(server->port()));
  ASSERT_TRUE(eventually([&] { return server->stats().open_connections == 3; }));
  int over = connect_raw(server->port());
  std::string reply = read_until(over, "}}");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503")) << reply;
  EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos) << reply;
  EXPECT_NE(reply.find("3 connections open"), std::string::npos) << reply;
  EXPECT_TRUE(server_closes(over));
  ::close(over);
  EXPECT_EQ(server->stats().refused_connections, 1);
  ::close(held.back());
  held.pop_back();
  ASSERT_TRUE(eventually([&] { return server->stats().open_connections == 2; }));
  Client client(Endpoint{"127.0.0.1", server->port()});
  auto res = client.request("GET", "/hello");
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  for (int fd : held) ::close(fd);
}

TEST(ServerLimits, DefaultConnectionCapFollowsTheDescriptorLimit) {
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  auto server = start_server(hello_router(), ConnectionLimits{});
  int cap = server->stats().max_connections;
  EXPECT_GE(cap, 64);
  EXPECT_LE(cap, 10'000);
  if (nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur / 2 >= 64) {
    EXPECT_LE(static_cast<rlim_t>(cap), nofile.rlim_cur / 2);
  }
}

// A route whose handler keeps the request (and its body) until the test answers.
struct Parking {
  std::promise<std::shared_ptr<Responder>> parked;
  Handler handler() {
    return [this](Request&&, std::shared_ptr<Responder> r) { parked.set_value(std::move(r)); };
  }
};

TEST(ServerLimits, BodiesOverTheMemoryBudgetGet503UntilHeldOnesAreAnswered) {
  ConnectionLimits limits;
  limits.max_buffered_body_bytes = 1 << 20;
  Parking parking;
  Router router;
  router.add("POST", "/park", parking.handler(), 4 << 20);
  router.add(
      "POST", "/echo",
      [](Request&& req, std::shared_ptr<Responder> r) {
        r->send({200, {}, std::to_string(req.body.size())});
      },
      4 << 20);
  auto server = start_server(std::move(router), limits);
  auto held = std::async(std::launch::async, [&] {
    Client client(Endpoint{"127.0.0.1", server->port()});
    return client.request("POST", "/park", std::string(700'000, 'a'));
  });
  auto responder = parking.parked.get_future().get();
  EXPECT_GE(server->stats().buffered_body_bytes, 700'000u);

  Client client(Endpoint{"127.0.0.1", server->port()});
  auto busy = client.request("POST", "/echo", std::string(500'000, 'b'));
  ASSERT_TRUE(busy.has_value()) << busy.error().message;
  EXPECT_EQ(busy->status, 503);
  EXPECT_EQ(busy->header("retry-after"), "1");
  EXPECT_EQ(nlohmann::json::parse(busy->body)["error"]["type"], "unavailable");
  // A chunked body has no length to check up front: it is stopped as it grows.
  int fd = connect_raw(server->port());
  std::string chunk(64 * 1024, 'c');
  std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_TRUE(send_all(fd, head));
  std::string reply;
  for (int i = 0; i < 16 && reply.empty(); ++i) {
    if (!send_all(fd, "10000\r\n" + chunk + "\r\n")) break;
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) reply.assign(buf, static_cast<size_t>(n));
  }
  if (reply.empty()) reply = read_until(fd, "\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503")) << reply;
  ::close(fd);

  responder->send({200, {}, "done"});
  responder.reset();
  auto first = held.get();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->status, 200);
  ASSERT_TRUE(eventually([&] { return server->stats().buffered_body_bytes == 0; }));
  Client again(Endpoint{"127.0.0.1", server->port()});
  auto ok = again.request("POST", "/echo", std::string(500'000, 'b'));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "500000");
}

TEST(ServerLimits, ABodyLargerThanTheWholeBudgetGets413) {
  ConnectionLimits limits;
  limits.max_buffered_body_bytes = 1 << 20;
  Router router;
  router.add(
      "POST", "/echo", [](Request&&, std::shared_ptr<Responder> r) { r->send({}); }, 4 << 20);
  auto server = start_server(std::move(router), limits);
  Client client(Endpoint{"127.0.0.1", server->port()});
  auto res = client.request("POST", "/echo", std::string(2 << 20, 'x'));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 413);
  EXPECT_NE(res->body.find("holds in memory"), std::string::npos) << res->body;
}

// --- accept() without descriptors --------------------------------------------------------
// The server runs in a child process, so that its lowered descriptor limit touches no other
// test. It fills every descriptor it may have, then the parent queues connections that its
// accept() cannot take (EMFILE).

struct AcceptReport {
  int64_t failures = 0;  // accept failures counted over the window
  int64_t window_ms = 0;
};

// The child: returns its exit status. `commands` carries one byte per step from the parent.
int run_starved_server(int commands, int reports, std::chrono::milliseconds backoff) {
  ServerOptions options("127.0.0.1", 0, 1);
  options.limits.accept_backoff = backoff;
  options.limits.max_connections = 1'000'000;
  Server server(options, hello_router());
  if (!server.start()) return 10;
  int probe = ::dup(0);
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = static_cast<rlim_t>(probe) + 16;
  ::close(probe);
  if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) return 11;
  std::vector<int> filler;
  filler.reserve(64);
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) filler.push_back(fd);
  if (errno != EMFILE || filler.size() < 8) return 12;
  int port = server.port();
  char step = 0;
  if (::write(reports, &port, sizeof port) != sizeof port) return 13;
  if (::read(commands, &step, 1) != 1) return 14;  // the parent's connections are queued
  auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (server.stats().accept_failures == 0) {
    if (std::chrono::steady_clock::now() > give_up) return 15;
    std::this_thread::sleep_for(10ms);
  }
  AcceptReport report;
  auto start = std::chrono::steady_clock::now();
  int64_t before = server.stats().accept_failures;
  std::this_thread::sleep_for(1s);
  report.failures = server.stats().accept_failures - before;
  report.window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  if (::write(reports, &report, sizeof report) != sizeof report) return 16;
  for (int i = 0; i < 8; ++i) ::close(filler[filler.size() - 1 - static_cast<size_t>(i)]);
  if (::read(commands, &step, 1) != 1) return 17;  // the parent is done
  server.stop();
  return 0;
}

// Forks the starved server, queues three connections, and returns its report; afterwards
// (descriptors freed) checks that a queued connection is served.
AcceptReport starve_and_recover(std::chrono::milliseconds backoff) {
  int commands[2];
  int reports[2];
  EXPECT_EQ(::pipe(commands), 0);
  EXPECT_EQ(::pipe(reports), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(commands[1]);
    ::close(reports[0]);
    ::_exit(run_starved_server(commands[0], reports[1], backoff));
  }
  ::close(commands[0]);
  ::close(reports[1]);
  int port = 0;
  AcceptReport report;
  char go = 1;
  if (::read(reports[0], &port, sizeof port) == sizeof port) {
    std::vector<int> queued;
    for (int i = 0; i < 3; ++i) queued.push_back(connect_raw(port));
    EXPECT_EQ(::write(commands[1], &go, 1), 1);
    EXPECT_EQ(::read(reports[0], &report, sizeof report), static_cast<ssize_t>(sizeof report));
    EXPECT_TRUE(send_all(queued[0], "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_TRUE(read_until(queued[0], "\r\n\r\nhi").starts_with("HTTP/1.1 200"));
    for (int fd : queued) ::close(fd);
  }
  EXPECT_EQ(::write(commands[1], &go, 1), 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  ::close(commands[1]);
  ::close(reports[0]);
  return report;
}

double failures_per_second(const AcceptReport& r) {
  return static_cast<double>(r.failures) * 1000.0 /
         static_cast<double>(std::max<int64_t>(1, r.window_ms));
}

TEST(ServerAcceptBackoff, PausesInsteadOfSpinningWhenDescriptorsRunOut) {
  AcceptReport report = starve_and_recover(100ms);
  // One thread pausing 100 ms after each failure makes about 10 a second.
  EXPECT_LT(failures_per_second(report), 50) << report.failures << " in " << report.window_ms;
}

// The measure above can tell: without the pause the same setup retries thousands of times
// a second (what the server did before it paused).
TEST(ServerAcceptBackoff, WithoutAPauseTheSameSetupSpins) {
  AcceptReport report = starve_and_recover(0ms);
  EXPECT_GT(failures_per_second(report), 500) << report.failures << " in " << report.window_ms;
}

}  // namespace
}  // namespace kumo::http
