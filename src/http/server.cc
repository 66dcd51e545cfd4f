#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/check.h"
#include "http/connection.h"

namespace kumo::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// A listening socket accepting on one worker's thread: the worker's share of the server's
// address, or a socket handed to adopt_listener(). Owned by its accept loop's handlers, the
// server (its own) or the adopter's handle; the worker holds it weakly.
struct Listener {
  explicit Listener(std::shared_ptr<Worker> w)
      : worker(std::move(w)), acceptor(worker->ioc), pause(worker->ioc) {}

  // On the worker's thread: closes the acceptor, which ends its accept loop.
  void close() {
    std::lock_guard lock(mu);
    closed = true;
    boost::system::error_code ec;
    acceptor.close(ec);
    pause.cancel();
  }

  std::shared_ptr<Worker> worker;  // first member: its io_context outlives the acceptor
  std::shared_ptr<const Router> router;  // null: the worker's
  int max_connections = 0;               // > 0: at most this many open from this listener
  std::shared_ptr<std::atomic<int>> open = std::make_shared<std::atomic<int>>(0);
  tcp::acceptor acceptor;
  net::steady_timer pause;  // the accept loop's pause after accept() failed
  int fd = -1;              // the acceptor's socket, for release() from another thread
  std::atomic<bool> released{false};
  std::mutex mu;
  bool closed = false;  // Guarded by mu: fd is no longer ours once the acceptor closed it.
};

namespace {

using ReusePort = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

Result<tcp::endpoint> resolve(const std::string& host, int port) {
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, static_cast<unsigned short>(port));
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot resolve listen host '{}': {}", host, ec.message()));
  }
  return results.begin()->endpoint();
}

Error listen_error(const tcp::endpoint& ep, const boost::system::error_code& ec) {
  return make_error(ErrorCode::kUnavailable,
                    fmt::format("cannot listen on {}:{}: {}; is another server using it? "
                                "choose another address with --listen",
                                ep.address().to_string(), ep.port(), ec.message()));
}

// SO_REUSEPORT would let a second server silently share a busy port, so first bind the
// port once without it: that fails when anyone already listens there.
Result<void> check_port_free(const tcp::endpoint& ep) {
  net::io_context ioc;
  tcp::acceptor probe(ioc);
  boost::system::error_code ec;
  probe.open(ep.protocol(), ec);
  if (!ec) probe.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) probe.bind(ep, ec);
  if (ec) return listen_error(ep, ec);
  return {};
}

Result<void> listen(tcp::acceptor& acceptor, const tcp::endpoint& ep) {
  boost::system::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.set_option(ReusePort(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return listen_error(ep, ec);
  return {};
}

constexpr auto kAcceptLogInterval = std::chrono::seconds(10);

// The 503 a connection over max_connections gets instead of being served.
std::string refusal_reply(int max_connections) {
  Response r = error_response(
      503, "unavailable",
      fmt::format("the server has {} connections open, its limit; retry shortly", max_connections));
  return fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
      r.body.size(), r.body);
}

// Answers without blocking (a fresh socket's send buffer is empty) and closes. What the
// client already sent is read first, so that closing does not reset the connection before it
// reads the answer.
void refuse(tcp::socket& socket, const std::string& reply) {
  int fd = socket.native_handle();
  ssize_t sent = ::send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  static_cast<void>(sent);
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  boost::system::error_code ec;
  socket.close(ec);
}

// A slot among the listener's own max_connections (a null one when it has no cap of its
// own); nullopt when they are taken.
std::optional<std::shared_ptr<void>> take_slot(const Listener& listener) {
  if (listener.max_connections <= 0) return std::shared_ptr<void>();
  if (listener.open->fetch_add(1, std::memory_order_relaxed) >= listener.max_connections) {
    listener.open->fetch_sub(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return std::shared_ptr<void>(nullptr, [open = listener.open](void*) {
    open->fetch_sub(1, std::memory_order_relaxed);
  });
}

void admit(const Listener& listener, tcp::socket socket) {
  const std::shared_ptr<Worker>& worker = listener.worker;
  auto slot = take_slot(listener);
  if (!slot) return refuse(socket, worker->refusal);
  if (!worker->limits->try_open_connection()) return refuse(socket, worker->refusal);
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // small replies go out at once
  std::make_shared<Connection>(worker, std::move(socket), listener.router, std::move(*slot))
      ->start();
}

// Once per kAcceptLogInterval per thread, with the count since the last line: a failure that
// repeats every pause must not flood the log.
void log_accept_failure(Worker& worker, const boost::system::error_code& ec,
                        std::chrono::milliseconds pause) {
  auto now = std::chrono::steady_clock::now();
  ++worker.accept_failures_unlogged;
  if (worker.accept_logged_at && now - *worker.accept_logged_at < kAcceptLogInterval) return;
  spdlog::warn("http accept failed: {} ({} times since the last report); pausing {} ms after each",
               ec.message(), worker.accept_failures_unlogged, pause.count());
  worker.accept_logged_at = now;
  worker.accept_failures_unlogged = 0;
}

void accept_loop(const std::shared_ptr<Listener>& listener);

// A connection that left before accept() took it is no reason to wait. Any other failure
// (EMFILE, ENFILE, ENOBUFS, ...) leaves the pending connection queued and the acceptor
// readable, so accepting again at once would spin: pause first.
void on_accept_error(const std::shared_ptr<Listener>& listener,
                     const boost::system::error_code& ec) {
  Worker& worker = *listener->worker;
  worker.limits->accept_failures.fetch_add(1, std::memory_order_relaxed);
  if (ec == net::error::connection_aborted) return accept_loop(listener);
  auto pause = worker.limits->limits.accept_backoff;
  log_accept_failure(worker, ec, pause);
  listener->pause.expires_after(pause);
  listener->pause.async_wait([listener](boost::system::error_code wait_ec) {
    if (!wait_ec) accept_loop(listener);
  });
}

void accept_loop(const std::shared_ptr<Listener>& listener) {
  listener->acceptor.async_accept([listener](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !listener->acceptor.is_open()) return;
    if (listener->released) {  // shut down: a connection taken before that is still served
      if (!ec) admit(*listener, std::move(socket));
      return;
    }
    if (ec) return on_accept_error(listener, ec);
    admit(*listener, std::move(socket));
    accept_loop(listener);
  });
}

// On the worker's thread: the worker learns of the listener (for stop()) and it starts.
void start_accepting(const std::shared_ptr<Listener>& listener) {
  auto& listeners = listener->worker->listeners;
  std::erase_if(listeners, [](const std::weak_ptr<Listener>& l) { return l.expired(); });
  listeners.push_back(listener);
  accept_loop(listener);
}

// Any thread: no connection is accepted on `listener` from now on. Shutting the listening
// socket down resets what waits in its backlog and refuses new connections at once; the
// acceptor itself is closed on the worker's thread (or by stop()).
void release(const std::shared_ptr<Listener>& listener) {
  listener->released = true;
  {
    std::lock_guard lock(listener->mu);
    if (!listener->closed) ::shutdown(listener->fd, SHUT_RD);
  }
  listener->worker->run_on([listener] { listener->close(); });
}

// What adopt_listener() hands out: releasing it releases the listener.
struct AdoptedHandle {
  explicit AdoptedHandle(std::shared_ptr<Listener> l) : listener(std::move(l)) {}
  ~AdoptedHandle() { release(listener); }
  AdoptedHandle(const AdoptedHandle&) = delete;
  AdoptedHandle& operator=(const AdoptedHandle&) = delete;
  std::shared_ptr<Listener> listener;
};

// The protocol of a listening stream socket; kInvalidArgument for anything else.
Result<tcp> listening_protocol(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int listening = 0;
  socklen_t flag_len = sizeof listening;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &flag_len) != 0 || !listening ||
      (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("descriptor {} is not a listening TCP socket", fd));
  }
  return addr.ss_family == AF_INET ? tcp::v4() : tcp::v6();
}

}  // namespace

struct Server::State {
  ServerOptions options;
  std::shared_ptr<const Router> router;
  std::shared_ptr<SharedLimits> limits;
  std::vector<std::shared_ptr<Listener>> listeners;  // one per worker, on the server's address
  std::vector<std::thread> threads;
  std::atomic<int> port{0};
  std::mutex mu;
  std::vector<std::shared_ptr<Worker>> workers;  // Guarded by mu (written by start/stop).
  bool running = false;                          // Guarded by mu: adopt_listener() may add.
  size_t next_adopter = 0;                       // Guarded by mu: round robin over workers.
};

Server::Server(ServerOptions options, Router router) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->router = std::make_shared<const Router>(std::move(router));
}

Server::~Server() { stop(); }

int Server::port() const { return state_->port.load(); }

ServerStats Server::stats() const {
  return state_->limits ? state_->limits->stats() : ServerStats{};
}

Result<void> Server::start() {
  KUMO_CHECK(state_->threads.empty());
  int threads = state_->options.threads > 0
                    ? state_->options.threads
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  auto endpoint = resolve(state_->options.host, state_->options.port);
  if (!endpoint) return endpoint.error();
  if (endpoint->port() != 0) {
    if (auto free = check_port_free(*endpoint); !free) return free.error();
  }
  auto limits = std::make_shared<SharedLimits>(state_->options.limits);
  std::string refusal = refusal_reply(limits->limits.max_connections);
  std::vector<std::shared_ptr<Worker>> workers;
  std::vector<std::shared_ptr<Listener>> listeners;
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_shared<Worker>(state_->router, limits);
    worker->refusal = refusal;
    auto listener = std::make_shared<Listener>(worker);
    if (auto ok = listen(listener->acceptor, *endpoint); !ok) return ok.error();
    // Port 0: the first bind picks the port, the others join it.
    if (endpoint->port() == 0) endpoint->port(listener->acceptor.local_endpoint().port());
    listener->fd = listener->acceptor.native_handle();
    workers.push_back(std::move(worker));
    listeners.push_back(std::move(listener));
  }
  state_->port = endpoint->port();
  state_->limits = limits;
  for (auto& listener : listeners) {
    start_accepting(listener);  // before the thread runs, so on its behalf
    state_->threads.emplace_back([worker = listener->worker] { worker->ioc.run(); });
  }
  state_->listeners = std::move(listeners);
  std::lock_guard lock(state_->mu);
  state_->workers = std::move(workers);
  state_->running = true;
  return {};
}

Result<std::shared_ptr<void>> Server::adopt_listener(int fd,
                                                     std::shared_ptr<const Router> router,
                                                     int max_connections) {
  auto protocol = listening_protocol(fd);
  if (!protocol) {
    ::close(fd);
    return protocol.error();
  }
  std::lock_guard lock(state_->mu);  // held until queued, so that stop() comes after
  if (!state_->running) {
    ::close(fd);
    return make_error(ErrorCode::kUnavailable, "the HTTP server is not running");
  }
  auto& worker = state_->workers[state_->next_adopter++ % state_->workers.size()];
  auto listener = std::make_shared<Listener>(worker);
  listener->router = std::move(router);
  listener->max_connections = max_connections;
  boost::system::error_code ec;
  listener->acceptor.assign(*protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot accept on descriptor {}: {}", fd, ec.message()));
  }
  listener->fd = fd;
  worker->run_on([listener] { start_accepting(listener); });
  return std::shared_ptr<void>(std::make_shared<AdoptedHandle>(std::move(listener)));
}

void Server::stop() {
  if (state_->threads.empty()) return;
  std::vector<std::shared_ptr<Worker>> workers;
  {
    std::lock_guard lock(state_->mu);
    state_->running = false;
    workers = state_->workers;
  }
  for (auto& worker : workers) {
    {
      std::lock_guard lock(worker->mu);
      worker->stopping = true;
    }
    net::post(worker->ioc, [worker] {
      for (auto& weak : worker->listeners) {
        if (auto listener = weak.lock()) listener->close();
      }
      std::lock_guard lock(worker->mu);
      for (Connection* connection : worker->connections) connection->close();
    });
  }
  // Each io_context runs out of work once its acceptors and sockets are closed.
  for (auto& thread : state_->threads) thread.join();
  state_->threads.clear();
  state_->listeners.clear();
  std::lock_guard lock(state_->mu);
  state_->workers.clear();
}

}  // namespace kumo::http
