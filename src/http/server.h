// http::Server: the HTTP/1.1 front door (keep-alive, chunked streaming, per-route body limits,
// and ConnectionLimits: timeouts, a connection cap and a memory budget for request bodies).
//
// Each of `threads` I/O threads runs its own io_context with its own acceptor, all bound to
// the same address with SO_REUSEPORT, so the kernel spreads connections and no lock or queue
// is shared on the hot path (adopt_listener() sockets are spread over the threads). A
// connection lives on one thread for its life; its handlers run there. The Server owns its
// threads; stop() (also run by the destructor) stops accepting, closes every connection and
// joins. start()/stop() are for one owner thread; port() is safe anywhere after start().
// Beast and Asio stay behind the pimpl.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "common/result.h"
#include "http/handler.h"
#include "http/router.h"
#include "http/types.h"

namespace kumo::http {

// What clients may hold of the server, and for how long, so that slow, idle or hostile ones
// cannot take all its descriptors, memory or CPU. Defaults suit an open network.
struct ConnectionLimits {
  // The whole header of a request, counted from its first byte (from accept on a new
  // connection). A client that sends less in that time is disconnected (slowloris).
  std::chrono::milliseconds header_timeout{10'000};
  // A kept-alive connection waiting for its next request is closed after this.
  std::chrono::milliseconds idle_timeout{60'000};
  // The longest pause while a request body is read; then the connection is closed.
  std::chrono::milliseconds body_timeout{30'000};
  // Each write of a response must complete within this (nginx's send_timeout): a client that
  // stops reading is disconnected instead of holding its connection and buffered answer.
  std::chrono::milliseconds send_timeout{60'000};
  // Connections open at once, all threads together; the next one is answered 503 and closed.
  // 0: half the process's descriptor limit (RLIMIT_NOFILE), between 64 and 10000.
  int max_connections = 0;
  // Bytes of request bodies held in memory at once, all connections together, from when a
  // body starts arriving until its request is answered. A body that would pass it gets 503
  // with Retry-After (413 when it alone is larger than the whole budget).
  uint64_t max_buffered_body_bytes = uint64_t{1} << 30;
  // After accept() fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS), accepting
  // pauses this long: the waiting connection stays queued, and retrying at once would spin.
  std::chrono::milliseconds accept_backoff{100};
};

struct ServerOptions {
  ServerOptions() = default;
  ServerOptions(std::string h, int p, int t) : host(std::move(h)), port(p), threads(t) {}

  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port; read it back with Server::port()
  int threads = 0;  // 0: one per hardware core
  ConnectionLimits limits;
};

// Counters of what the limits above did, for tests and operators. Read at any time.
struct ServerStats {
  int64_t open_connections = 0;
  int max_connections = 0;          // ConnectionLimits::max_connections, resolved
  int64_t refused_connections = 0;  // answered 503 for being over max_connections
  int64_t accept_failures = 0;      // accept() errors, EMFILE included
  uint64_t buffered_body_bytes = 0;
};

class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads. kUnavailable when the address cannot be bound (in use,
  // bad host), with a message naming it.
  Result<void> start();
  // The bound port (the chosen one when options.port was 0); 0 before start().
  int port() const;
  // What the connection limits did so far; zeros before start().
  ServerStats stats() const;
  // Also accepts on `fd`, a listening TCP socket made elsewhere (in another network namespace,
  // say), with the same router and limits (its connections count against the same cap); the
  // server owns `fd` from this call on, also when it fails. Until the returned handle is
  // released: on release no further connection is accepted there (what waits in its backlog is
  // reset) while connections already accepted finish normally. kInvalidArgument for a `fd` that
  // is not listening, kUnavailable when the server is not running. With `router`, its
  // connections are routed by that one instead (Router::restricted); with
  // `max_connections` > 0, at most that many of them are open at once (the next get the
  // 503 of a full server), so one listener cannot take the whole cap. Thread-safe.
  Result<std::shared_ptr<void>> adopt_listener(int fd,
                                               std::shared_ptr<const Router> router = nullptr,
                                               int max_connections = 0);
  // Graceful: stops accepting, closes open connections, joins the threads. Idempotent.
  // Responders still held elsewhere stay valid; their calls are then ignored.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kumo::http
