// http::Server: the HTTP/1.1 front door (keep-alive, chunked streaming, per-route body limits).
//
// Each of `threads` I/O threads runs its own io_context with its own acceptor, all bound to
// the same address with SO_REUSEPORT, so the kernel spreads connections and no lock or queue
// is shared on the hot path. A connection lives on one thread for its life; its handlers run
// there. The Server owns its threads; stop() (also run by the destructor) stops accepting,
// closes every connection and joins. start()/stop() are for one owner thread; port() is
// safe anywhere after start(). Beast and Asio stay behind the pimpl.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "http/handler.h"
#include "http/router.h"
#include "http/types.h"

namespace kumo::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port; read it back with Server::port()
  int threads = 0;  // 0: one per hardware core
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
  // Graceful: stops accepting, closes open connections, joins the threads. Idempotent.
  // Responders still held elsewhere stay valid; their calls are then ignored.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kumo::http
