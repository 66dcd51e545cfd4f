// What reaching Kumo from inside a boxed instance's network namespace costs: GET /healthz on
// an http::Server through its own listener (a client in the server's namespace) against the
// same through a listener made in another namespace (listen_in_netns + adopt_listener, a
// client thread entered into that namespace), kept-alive and one connection per request; and
// a socket made in another namespace by NetnsSockets (what an exec instance's client pays per
// connection) against a plain socket(). Rounds alternate so that both paths see the same noise.
// Needs root. Usage: netns_bench [requests per round, default 2000] [rounds, default 5]
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "executor/netns.h"
#include "http/client.h"
#include "http/server.h"

namespace {

using namespace kumo;
using Clock = std::chrono::steady_clock;

// Microseconds each call of `op` took.
std::vector<double> timed(int n, const std::function<void()>& op) {
  std::vector<double> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto start = Clock::now();
    op();
    out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

void report(const char* what, const std::vector<double>& v) {
  std::printf("  %-50s p50 %7.1f us   p99 %7.1f us   (%zu)\n", what, percentile(v, 0.5),
              percentile(v, 0.99), v.size());
}

// A child in a network namespace of its own with loopback up, until killed.
pid_t start_box() {
  int ready[2];
  if (::pipe(ready) != 0) std::exit(1);
  pid_t pid = ::fork();
  if (pid == 0) {
    char ok = ::unshare(CLONE_NEWNET) == 0 && executor::bring_loopback_up() == 0 ? 1 : 0;
    if (::write(ready[1], &ok, 1) != 1) _exit(1);
    while (true) ::pause();
  }
  char ok = 0;
  if (::read(ready[0], &ok, 1) != 1 || !ok) {
    std::fprintf(stderr, "cannot make a network namespace (root needed)\n");
    std::exit(1);
  }
  return pid;
}

// GET /healthz n times from a thread that enters `box` first (0: stays in ours).
std::vector<double> gets(int port, pid_t box, int n, bool keep_alive) {
  std::vector<double> out;
  std::thread([&] {
    if (box != 0 && !executor::enter_netns_of(box)) std::exit(1);
    http::Client client(http::Endpoint{"127.0.0.1", port});
    http::Headers headers;
    if (!keep_alive) headers.emplace_back("Connection", "close");
    out = timed(n, [&] {
      auto res = client.request("GET", "/healthz", "", headers);
      if (!res || res->status != 200) std::exit(1);
    });
  }).join();
  return out;
}

void append(std::vector<double>& to, const std::vector<double>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  http::Router router;
  router.add("GET", "/healthz", [](http::Request&&, std::shared_ptr<http::Responder> r) {
    r->send({200, {}, "ok"});
  });
  http::Server server(http::ServerOptions{"127.0.0.1", 0, 2}, std::move(router));
  if (!server.start()) return 1;
  pid_t box = start_box();
  auto listener = executor::listen_in_netns(box, server.port());
  if (!listener) return 1;
  auto handle = server.adopt_listener(listener->release());
  if (!handle) return 1;
  auto sockets = executor::NetnsSockets::start(box);
  if (!sockets) return 1;

  std::vector<double> own_kept, box_kept, own_new, box_new, plain_socket, netns_socket;
  for (int round = 0; round < rounds; ++round) {
    append(own_kept, gets(server.port(), 0, n, true));
    append(box_kept, gets(server.port(), box, n, true));
    append(own_new, gets(server.port(), 0, n / 4, false));
    append(box_new, gets(server.port(), box, n / 4, false));
    append(plain_socket, timed(n, [] { ::close(::socket(AF_INET, SOCK_STREAM, 0)); }));
    append(netns_socket, timed(n, [&] {
             if (!(*sockets)->tcp_socket()) std::exit(1);
           }));
  }
  std::printf("GET /healthz, %d rounds, 2 server threads, %u cores\n", rounds,
              std::thread::hardware_concurrency());
  report("kept-alive, own listener, host client", own_kept);
  report("kept-alive, adopted listener in a netns", box_kept);
  report("new connection each, own listener", own_new);
  report("new connection each, adopted listener in a netns", box_new);
  std::printf("a socket to connect with (exec instances, per connection)\n");
  report("socket() in our namespace", plain_socket);
  report("NetnsSockets::tcp_socket() in the box's", netns_socket);
  handle->reset();
  server.stop();
  ::kill(box, SIGKILL);
  ::waitpid(box, nullptr, 0);
  return 0;
}
