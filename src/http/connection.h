// Internal to kumo_http: one accepted HTTP/1.1 connection and the Responder it hands to
// handlers, plus the per-thread Worker they live on.
//
// A Worker owns one io_context (run by one thread) and accepts on its listeners (server.cc):
// its share of the server's address and any adopted listening sockets. A Connection lives on
// its Worker's thread: every member function runs there, so the connection needs no lock.
// It is owned by shared_ptrs held by its pending I/O handlers and by the Responder of the
// request in progress; Responders hop onto the thread via Worker::run_on().
#pragma once

#include <atomic>
#include <condition_variable>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "http/handler.h"
#include "http/limits.h"
#include "http/router.h"

namespace kumo::http {

class Connection;
class ConnectionBodyReader;
struct Listener;

struct Worker {
  Worker(std::shared_ptr<const Router> r, std::shared_ptr<SharedLimits> l)
      : router(std::move(r)), limits(std::move(l)) {}

  // Runs `fn` on this worker's thread: inline when already there, else posted. Dropped once
  // the server is stopping, so nothing queues onto an io_context nobody runs any more.
  template <typename F>
  void run_on(F&& fn) {
    if (ioc.get_executor().running_in_this_thread()) {
      fn();
      return;
    }
    std::lock_guard lock(mu);
    if (!stopping) boost::asio::post(ioc, std::forward<F>(fn));
  }

  boost::asio::io_context ioc{1};
  std::shared_ptr<const Router> router;
  std::shared_ptr<SharedLimits> limits;
  std::string refusal;  // the raw 503 for connections over max_connections
  // The listeners accepting on this thread, closed by Server::stop(). This thread only (and
  // start(), before the thread runs).
  std::vector<std::weak_ptr<Listener>> listeners;
  // The accept loops' log throttle (this thread only).
  std::optional<std::chrono::steady_clock::time_point> accept_logged_at;
  int64_t accept_failures_unlogged = 0;
  std::mutex mu;
  bool stopping = false;                        // Guarded by mu.
  std::unordered_set<Connection*> connections;  // Guarded by mu.
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `router`: the listener's own (Server::adopt_listener); null: the worker's. `slot`: the
  // listener's count of its connections, released when the connection closes; may be null.
  Connection(std::shared_ptr<Worker> worker, boost::asio::ip::tcp::socket socket,
             std::shared_ptr<const Router> router = nullptr, std::shared_ptr<void> slot = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Closes the socket now; pending operations end with an error.
  void close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // True when the client closed its end (detected without reading).
  bool peer_gone();
  Worker& worker() { return *worker_; }

  // The answer to the current request, from its Responder (already on this thread).
  void send(Response response);
  // The same from another thread while this connection waits idle for the answer: writes
  // what the socket takes at once from the calling thread (never blocking on a client that
  // does not read) and starts reading the next request, saving the hop onto the connection's
  // thread (a wake-up of that thread on the hot path); what the socket did not take goes out
  // from the connection's thread. False, having done nothing, when the reply is too large to
  // write at once; then use send() on the thread.
  bool send_from_other_thread(Response& response);
  void start_stream(int status, const Headers& headers);
  // `data` was counted with count_stream_bytes() when handed over.
  void write_chunk(std::string data);
  void finish();
  // Backpressure (any thread): chunks handed to the Responder count until written.
  void count_stream_bytes(size_t n) { stream_bytes_.fetch_add(n, std::memory_order_acq_rel); }
  void uncount_stream_bytes(size_t n);
  bool wait_for_room(std::function<void()> resume);
  // The Responder was dropped unanswered (or mid-stream).
  void abandon(bool streaming);
  // A streamed request body (body_stream.cc): its reader took the last piece and asks for
  // the next one.
  void read_piece();

 private:
  struct Outgoing {
    std::string head;
    std::string body;
    bool crlf = false;  // a chunk's trailing CRLF
    bool counted = false;  // a stream chunk: its body counts in stream_bytes_
  };

  void read_header();
  void read_header_some();
  void on_header(boost::beast::error_code ec);
  void read_body();
  void on_body(boost::beast::error_code ec);
  void on_read_error(boost::beast::error_code ec);
  void dispatch();
  Request make_request(const boost::beast::http::request_header<>& head);
  void run_handler(Request&& req);
  // Streamed request bodies (body_stream.cc).
  void stream_body();
  void on_piece(boost::beast::error_code ec);
  void fail_body(boost::beast::error_code ec);
  // An answer is starting: a body still arriving cannot be followed by another request.
  void answer_started();
  void end_body_stream(Error error);
  void reply_and_close(Response response);
  std::string response_head(int status, const Headers& headers, std::string_view framing);
  std::string full_head(const Response& response, bool& drop_body);
  void send_rest_on_thread(std::string head, std::string body, size_t sent);
  void enqueue(Outgoing out);
  void flush();
  void on_response_written();
  void linger();
  void drain();

  // Limits (connection_limits.cc): one deadline for the phase the connection is in (header,
  // body, idle between requests) and the request body's share of the server's body budget.
  // arm/disarm only store the deadline (any thread driving the connection may call them);
  // watch_deadline() runs on the connection's thread and closes the connection past it.
  void arm_deadline(std::chrono::milliseconds after);
  void disarm_deadline();
  void watch_deadline();
  // Waits (up to idle_timeout) for the next request's first byte, then reads its header
  // (within header_timeout).
  void await_request();
  // Grows the body's reservation to `bytes`; when the budget has no room, answers 503 (413
  // when `bytes` alone is over the budget) and returns false.
  bool reserve_body(uint64_t bytes);

  std::shared_ptr<Worker> worker_;  // first member: the io_context outlives socket_
  std::shared_ptr<const Router> router_;
  std::shared_ptr<void> slot_;  // Reset by close().
  boost::asio::ip::tcp::socket socket_;
  std::string remote_address_;
  int remote_port_ = 0;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Router::Match match_;
  size_t body_limit_ = 0;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool head_only_ = false;      // a HEAD request: headers, no body
  bool chunked_ = false;        // the current stream uses chunked encoding
  bool response_done_ = false;  // the whole answer is queued
  bool close_after_ = false;    // an error reply: linger, then close
  bool writing_ = false;
  std::vector<Outgoing> queue_;
  std::vector<Outgoing> in_flight_;
  std::vector<boost::asio::const_buffer> buffers_;
  std::optional<boost::asio::steady_timer> linger_timer_;
  size_t drained_ = 0;
  std::atomic<bool> closed_{false};
  boost::asio::steady_timer deadline_;
  // When the current phase must end, in steady_clock ticks; kNoDeadline while a handler works.
  static constexpr int64_t kNoDeadline = INT64_MAX;
  std::atomic<int64_t> deadline_at_{kNoDeadline};
  bool header_started_ = false;  // the next piece read starts a request (and its deadline)
  BodyReservation body_reservation_;
  // A request body streamed to its handler (body_stream.cc); body_reader_ is set while it
  // is still arriving.
  std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>>
      body_parser_;
  std::shared_ptr<ConnectionBodyReader> body_reader_;
  std::string piece_;
  bool piece_reading_ = false;    // a read into piece_ is in flight
  bool linger_after_piece_ = false;  // the answer went out meanwhile: drop the rest then
  std::atomic<bool> streamed_request_{false};  // the current request's body is streamed
  std::atomic<size_t> stream_bytes_{0};  // stream chunks handed over and not yet written
  std::mutex room_mu_;
  std::function<void()> on_room_;  // Guarded by room_mu_.
};

// The Responder handed to handlers: forwards to its Connection on the connection's thread
// and enforces one answer per request.
class ConnectionResponder final : public Responder,
                                  public std::enable_shared_from_this<ConnectionResponder> {
 public:
  // `body` is the request body's share of the body budget, given back with the Responder.
  ConnectionResponder(std::shared_ptr<Connection> connection, BodyReservation body);
  ~ConnectionResponder() override;

  void send(Response response) override;
  void start_stream(int status, Headers headers) override;
  void write_chunk(std::string data) override;
  void finish() override;
  bool closed() const override;
  bool wait_for_room(std::function<void()> resume) override;

 private:
  enum class State { kFresh, kStreaming, kDone };

  std::shared_ptr<Connection> connection_;
  std::atomic<State> state_{State::kFresh};
  BodyReservation body_;
};

}  // namespace kumo::http

namespace kumo::http {

// The BodyReader of a streamed request body: one piece at a time, handed from the
// connection's thread to the consumer's.
class ConnectionBodyReader final : public BodyReader {
 public:
  explicit ConnectionBodyReader(std::weak_ptr<Connection> connection)
      : connection_(std::move(connection)) {}
  Result<std::string> read() override;
  // From the connection's thread.
  void deliver(std::string piece, bool last);
  void fail(Error error);

 private:
  std::weak_ptr<Connection> connection_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> piece_;  // Guarded by mu_.
  bool last_ = false;                 // Guarded by mu_: piece_ is the body's last one.
  bool ended_ = false;                // Guarded by mu_: the last piece was taken.
  std::optional<Error> error_;        // Guarded by mu_.
};

}  // namespace kumo::http
