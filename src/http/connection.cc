#include "http/connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

namespace kumo::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Enough for a 404/405 body we read only to keep the connection usable.
constexpr size_t kUnroutedBodyLimit = 64 * 1024;
constexpr size_t kHeaderLimit = 64 * 1024;
// After an error reply, read and drop what the client still sends (up to this much, for up
// to kLingerTime) so that closing does not reset the connection before it read the reply.
constexpr size_t kLingerBytes = 16 * 1024 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string limit_text(size_t bytes) {
  constexpr double kMb = 1024.0 * 1024.0;
  if (bytes >= 1024 * 1024) return fmt::format("{:g} MB", bytes / kMb);
  return fmt::format("{:.3g} MB ({} bytes)", bytes / kMb, bytes);
}

// Appends "name: value\r\n", dropping CR/LF so a handler cannot split the header block.
void append_field(std::string& head, std::string_view name, std::string_view value) {
  for (char c : name) {
    if (c != '\r' && c != '\n') head.push_back(c);
  }
  head += ": ";
  for (char c : value) {
    if (c != '\r' && c != '\n') head.push_back(c);
  }
  head += "\r\n";
}

// Writes what the socket takes now of `head` then `body`, never waiting for room; the bytes
// written, or nullopt when the socket failed.
std::optional<size_t> send_without_blocking(int fd, std::string_view head,
                                           std::string_view body) {
  size_t total = head.size() + body.size();
  size_t sent = 0;
  while (sent < total) {
    std::array<iovec, 2> parts{};
    size_t count = 0;
    if (sent < head.size()) {
      parts[count++] = {const_cast<char*>(head.data() + sent), head.size() - sent};
    }
    size_t body_sent = sent > head.size() ? sent - head.size() : 0;
    if (body_sent < body.size()) {
      parts[count++] = {const_cast<char*>(body.data() + body_sent), body.size() - body_sent};
    }
    msghdr msg{};
    msg.msg_iov = parts.data();
    msg.msg_iovlen = count;
    ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return std::nullopt;
    sent += static_cast<size_t>(n);
  }
  return sent;
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

}  // namespace

Connection::Connection(std::shared_ptr<Worker> worker, net::ip::tcp::socket socket,
                       std::shared_ptr<const Router> router, std::shared_ptr<void> slot)
    : worker_(std::move(worker)),
      router_(router ? std::move(router) : worker_->router),
      slot_(std::move(slot)),
      socket_(std::move(socket)),
      deadline_(socket_.get_executor()) {
  beast::error_code ec;
  auto peer = socket_.remote_endpoint(ec);
  if (!ec) {
    remote_address_ = peer.address().to_string();
    remote_port_ = peer.port();
  }
  std::lock_guard lock(worker_->mu);
  worker_->connections.insert(this);
}

Connection::~Connection() {
  close();  // returns the connection's slot if nothing closed it before
  std::lock_guard lock(worker_->mu);
  worker_->connections.erase(this);
}

void Connection::start() {
  arm_deadline(worker_->limits->limits.header_timeout);
  watch_deadline();
  read_header();
}

// While a reply streams no read is pending, so a client that left shows only as end of
// stream on the socket: peek for it (any thread; a peek changes nothing).
bool Connection::peer_gone() {
  char c;
  ssize_t n = ::recv(socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void Connection::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  beast::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  if (linger_timer_) linger_timer_->cancel();
  // From another thread the deadline's next wake-up sees the connection closed instead.
  if (worker_->ioc.get_executor().running_in_this_thread()) deadline_.cancel();
  worker_->limits->release_connection();
  slot_.reset();
  if (body_reader_) {
    end_body_stream(make_error(ErrorCode::kUnavailable, "the client went away"));
  }
  std::function<void()> resume;
  {
    std::lock_guard lock(room_mu_);
    resume.swap(on_room_);
  }
  if (resume) resume();  // a waiting producer learns that the stream is over
}

bool Connection::wait_for_room(std::function<void()> resume) {
  std::lock_guard lock(room_mu_);
  if (closed() || stream_bytes_.load(std::memory_order_acquire) < kStreamWindow) return false;
  on_room_ = std::move(resume);
  return true;
}

void Connection::uncount_stream_bytes(size_t n) {
  if (n == 0) return;
  size_t left = stream_bytes_.fetch_sub(n, std::memory_order_acq_rel) - n;
  if (left >= kStreamWindow / 2) return;
  std::function<void()> resume;
  {
    std::lock_guard lock(room_mu_);
    resume.swap(on_room_);
  }
  if (resume) resume();
}

void Connection::read_header() {
  if (closed()) return;
  streamed_request_ = false;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  // Checked against the route's limit once the header names the route. (Not boost::none:
  // Beast 1.74 compares Content-Length against an empty optional as "over the limit".)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  read_header_some();
}

// A piece at a time rather than async_read_header, so that the first piece of a request can
// start its header deadline (see await_request).
void Connection::read_header_some() {
  bhttp::async_read_some(socket_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, size_t) {
                           if (!ec && self->header_started_) {
                             self->header_started_ = false;
                             self->arm_deadline(self->worker_->limits->limits.header_timeout);
                           }
                           if (ec || self->parser_->is_header_done()) return self->on_header(ec);
                           self->read_header_some();
                         });
}

void Connection::on_header(beast::error_code ec) {
  if (ec) return on_read_error(ec);
  auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  http10_ = req.version() < 11;
  head_only_ = req.method() == bhttp::verb::head;
  std::string_view target(req.target().data(), req.target().size());
  std::string_view method(req.method_string().data(), req.method_string().size());
  match_ = router_->match(method, target.substr(0, target.find('?')));
  body_limit_ = match_.route != nullptr ? match_.route->max_body : kUnroutedBodyLimit;
  auto length = parser_->content_length();
  if (length && *length > body_limit_) return on_read_error(bhttp::error::body_limit);
  body_reservation_ = BodyReservation(worker_->limits->bodies);
  // A streamed body (Router::add_streaming) is never held whole, so it reserves nothing.
  bool streamed = match_.route != nullptr && match_.route->stream_body;
  if (!streamed && !reserve_body(length.value_or(0))) return;
  parser_->body_limit(body_limit_);
  auto expect = req[bhttp::field::expect];
  if (!parser_->is_done() && iequals({expect.data(), expect.size()}, "100-continue")) {
    net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->read_body();
                     });
    return;
  }
  read_body();
}

// Reads a piece at a time so that every piece renews the body deadline and counts against
// the body budget (a chunked body has no length to reserve up front).
void Connection::read_body() {
  if (parser_->is_done()) return dispatch();
  if (match_.route != nullptr && match_.route->stream_body) return stream_body();
  arm_deadline(worker_->limits->limits.body_timeout);
  bhttp::async_read_some(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
}

void Connection::on_body(beast::error_code ec) {
  if (ec) return on_read_error(ec);
  if (!reserve_body(parser_->get().body().size())) return;
  read_body();
}

void Connection::on_read_error(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    return reply_and_close(
        error_response(413, "too_large",
                       "request body is over this endpoint's limit of " + limit_text(body_limit_)));
  }
  if (ec == bhttp::error::header_limit) {
    return reply_and_close(error_response(431, "bad_request", "request headers are too large"));
  }
  if (ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
      is_http_error(ec)) {
    return reply_and_close(
        error_response(400, "bad_request", "malformed HTTP request: " + ec.message()));
  }
  close();  // the peer left, or the server is stopping
}

void Connection::dispatch() {
  disarm_deadline();
  auto msg = parser_->release();
  parser_.reset();
  if (match_.route == nullptr) {
    body_reservation_.reset();
    Response r = match_.status == 405
                     ? error_response(405, "method_not_allowed", "method not allowed here")
                     : error_response(404, "not_found", "no such endpoint");
    if (match_.status == 405) r.headers.emplace_back("Allow", match_.allow);
    return send(std::move(r));
  }
  Request req = make_request(msg.base());
  req.body = std::move(msg.body());
  run_handler(std::move(req));
}

Request Connection::make_request(const bhttp::request_header<>& head) {
  Request req;
  req.method.assign(head.method_string().data(), head.method_string().size());
  req.target.assign(head.target().data(), head.target().size());
  size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  req.headers.reserve(16);
  for (const auto& field : head) {
    req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  req.params = std::move(match_.params);
  req.remote_address = remote_address_;
  req.remote_port = remote_port_;
  return req;
}

void Connection::run_handler(Request&& req) {
  auto responder = std::make_shared<ConnectionResponder>(shared_from_this(),
                                                        std::move(body_reservation_));
  std::string target = req.target;
  try {
    match_.route->handler(std::move(req), responder);
  } catch (const std::exception& e) {
    spdlog::error("http handler for {} threw: {}", target, e.what());
    responder->send(error_response(500, "internal", "the server failed on this request"));
  }
}

void Connection::reply_and_close(Response response) {
  // The body read so far is dropped; the send deadline bounds writing the reply.
  parser_.reset();
  body_reservation_.reset();
  keep_alive_ = false;
  close_after_ = true;
  head_only_ = false;
  send(std::move(response));
}

std::string Connection::response_head(int status, const Headers& headers,
                                      std::string_view framing) {
  std::string head;
  head.reserve(128 + headers.size() * 48);
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  head += "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  head.append(reason.data(), reason.size());
  head += "\r\n";
  for (const auto& [name, value] : headers) {
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) continue;
    if (iequals(name, "Connection")) {
      if (iequals(value, "close")) keep_alive_ = false;
      continue;
    }
    append_field(head, name, value);
  }
  head += framing;
  if (!keep_alive_) {
    head += "Connection: close\r\n";
  } else if (http10_) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

std::string Connection::full_head(const Response& response, bool& drop_body) {
  bool bodiless_status = response.status == 204 || response.status == 304 ||
                         (response.status >= 100 && response.status < 200);
  std::string framing =
      bodiless_status ? "" : fmt::format("Content-Length: {}\r\n", response.body.size());
  if (head_only_ && !bodiless_status && response.body.empty()) {
    // A HEAD handler states the size of what GET would send without building the body.
    for (const auto& [name, value] : response.headers) {
      if (iequals(name, "Content-Length")) framing = fmt::format("Content-Length: {}\r\n", value);
    }
  }
  drop_body = head_only_ || bodiless_status;
  return response_head(response.status, response.headers, framing);
}

void Connection::send(Response response) {
  if (closed()) return;
  answer_started();
  bool drop_body = false;
  std::string head = full_head(response, drop_body);
  if (drop_body) response.body.clear();
  response_done_ = true;
  enqueue({std::move(head), std::move(response.body), false});
}

bool Connection::send_from_other_thread(Response& response) {
  // Between dispatch() and the answer nothing else runs on this connection: no read or write
  // is pending and the connection's thread leaves it alone, so this thread may use it. The
  // asio reactor's per-socket lock orders these writes before the next read's completion.
  constexpr size_t kMaxDirect = 64 * 1024;
  if (closed() || writing_ || !queue_.empty() || response.body.size() > kMaxDirect) return false;
  if (streamed_request_) return false;  // its body may still be read on the connection's thread
  bool drop_body = false;
  std::string head = full_head(response, drop_body);
  if (drop_body) response.body.clear();
  // Never waits for room: a client that pipelines requests and does not read would otherwise
  // hold this thread (the instance's I/O thread) in the write for as long as it likes.
  std::optional<size_t> sent =
      send_without_blocking(socket_.native_handle(), head, response.body);
  if (!sent) {
    close();
    return true;
  }
  if (*sent < head.size() + response.body.size()) {
    send_rest_on_thread(std::move(head), std::move(response.body), *sent);
    return true;
  }
  response_done_ = false;
  chunked_ = false;
  if (close_after_ || !keep_alive_) {
    beast::error_code ec;
    socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
    close();
    return true;
  }
  await_request();
  return true;
}

// The socket took only `sent` bytes: the rest goes out as send() would have sent it, on the
// connection's thread under the send deadline. Nothing else uses the connection meanwhile.
void Connection::send_rest_on_thread(std::string head, std::string body, size_t sent) {
  Outgoing rest;
  if (sent < head.size()) {
    rest.head = head.substr(sent);
    rest.body = std::move(body);
  } else {
    rest.body = body.substr(sent - head.size());
  }
  worker_->run_on([self = shared_from_this(), rest = std::move(rest)]() mutable {
    self->response_done_ = true;
    self->enqueue(std::move(rest));
  });
}

void Connection::start_stream(int status, const Headers& headers) {
  if (closed()) return;
  answer_started();
  // HTTP/1.0 has no chunked encoding: the body runs until the connection closes.
  chunked_ = !http10_;
  if (http10_) keep_alive_ = false;
  std::string head =
      response_head(status, headers, chunked_ ? "Transfer-Encoding: chunked\r\n" : "");
  enqueue({std::move(head), {}, false});
}

void Connection::write_chunk(std::string data) {
  // An empty chunk would read as the end of the body.
  if (closed() || data.empty() || head_only_) return uncount_stream_bytes(data.size());
  if (!chunked_) return enqueue({{}, std::move(data), false, true});
  enqueue({fmt::format("{:x}\r\n", data.size()), std::move(data), true, true});
}

void Connection::finish() {
  if (closed()) return;
  response_done_ = true;
  if (chunked_ && !head_only_) return enqueue({"0\r\n\r\n", {}, false});
  flush();
}

void Connection::abandon(bool streaming) {
  if (streaming) return close();  // a cut stream tells the client it is incomplete
  send(error_response(500, "internal", "the server did not answer this request"));
}

void Connection::enqueue(Outgoing out) {
  queue_.push_back(std::move(out));
  flush();
}

// Writes everything queued in one gather write; chunks queued meanwhile go in the next.
void Connection::flush() {
  if (writing_ || closed()) return;
  if (queue_.empty()) {
    if (response_done_) return on_response_written();
    // A stream waits for its producer, which the function's own timeout bounds.
    return disarm_deadline();
  }
  static constexpr std::string_view kCrlf = "\r\n";
  in_flight_.swap(queue_);
  buffers_.clear();
  for (const Outgoing& out : in_flight_) {
    if (!out.head.empty()) buffers_.emplace_back(out.head.data(), out.head.size());
    if (!out.body.empty()) buffers_.emplace_back(out.body.data(), out.body.size());
    if (out.crlf) buffers_.emplace_back(kCrlf.data(), kCrlf.size());
  }
  writing_ = true;
  // A client that stops reading must not hold the connection and its answer forever.
  arm_deadline(worker_->limits->limits.send_timeout);
  net::async_write(socket_, buffers_, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->writing_ = false;
    size_t written = 0;
    for (const Outgoing& out : self->in_flight_) {
      if (out.counted) written += out.body.size();
    }
    self->in_flight_.clear();
    if (ec) return self->close();
    self->uncount_stream_bytes(written);
    self->flush();
  });
}

void Connection::on_response_written() {
  response_done_ = false;
  chunked_ = false;
  if (close_after_ && piece_reading_) {
    linger_after_piece_ = true;  // one read at a time: drop the rest once it completes
    return;
  }
  if (close_after_) return linger();
  if (!keep_alive_) {
    beast::error_code ec;
    socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
    return close();
  }
  await_request();
}

void Connection::linger() {
  beast::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  linger_timer_.emplace(socket_.get_executor());
  linger_timer_->expires_after(kLingerTime);
  linger_timer_->async_wait([self = shared_from_this()](beast::error_code) { self->close(); });
  drain();
}

void Connection::drain() {
  buffer_.clear();
  socket_.async_read_some(buffer_.prepare(64 * 1024),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kLingerBytes) return self->close();
                            self->drain();
                          });
}

ConnectionResponder::ConnectionResponder(std::shared_ptr<Connection> connection,
                                         BodyReservation body)
    : connection_(std::move(connection)), body_(std::move(body)) {}

ConnectionResponder::~ConnectionResponder() {
  if (state_ == State::kDone) return;
  bool streaming = state_ == State::kStreaming;
  connection_->worker().run_on(
      [connection = connection_, streaming] { connection->abandon(streaming); });
}

void ConnectionResponder::send(Response response) {
  Worker& worker = connection_->worker();
  if (!worker.ioc.get_executor().running_in_this_thread()) {
    State fresh = State::kFresh;
    if (!state_.compare_exchange_strong(fresh, State::kDone)) return;
    if (connection_->send_from_other_thread(response)) return;
    worker.run_on([connection = connection_, r = std::move(response)]() mutable {
      connection->send(std::move(r));
    });
    return;
  }
  State fresh = State::kFresh;
  if (state_.compare_exchange_strong(fresh, State::kDone)) connection_->send(std::move(response));
}

void ConnectionResponder::start_stream(int status, Headers headers) {
  connection_->worker().run_on([self = shared_from_this(), status, h = std::move(headers)] {
    State fresh = State::kFresh;
    if (!self->state_.compare_exchange_strong(fresh, State::kStreaming)) return;
    self->connection_->start_stream(status, h);
  });
}

void ConnectionResponder::write_chunk(std::string data) {
  connection_->count_stream_bytes(data.size());
  connection_->worker().run_on([self = shared_from_this(), d = std::move(data)]() mutable {
    if (self->state_ != State::kStreaming) return self->connection_->uncount_stream_bytes(d.size());
    self->connection_->write_chunk(std::move(d));
  });
}

void ConnectionResponder::finish() {
  connection_->worker().run_on([self = shared_from_this()] {
    State streaming = State::kStreaming;
    if (!self->state_.compare_exchange_strong(streaming, State::kDone)) return;
    self->connection_->finish();
  });
}

bool ConnectionResponder::wait_for_room(std::function<void()> resume) {
  return connection_->wait_for_room(std::move(resume));
}

bool ConnectionResponder::closed() const {
  return connection_->closed() || connection_->peer_gone();
}

}  // namespace kumo::http
