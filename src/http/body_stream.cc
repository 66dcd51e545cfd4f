// Connection's streamed request bodies (Router::add_streaming, http/body_reader.h): the
// handler runs once the header is in, and the body reaches it one piece at a time.
#include <fmt/format.h>

#include <utility>

#include "http/connection.h"

namespace kumo::http {

namespace bhttp = boost::beast::http;
namespace beast = boost::beast;

void Connection::stream_body() {
  // The handler runs from here on; the body reader's own piece timeout bounds a stalled body.
  disarm_deadline();
  streamed_request_ = true;
  body_parser_.emplace(std::move(*parser_));
  parser_.reset();
  body_parser_->body_limit(body_limit_);
  body_reader_ = std::make_shared<ConnectionBodyReader>(weak_from_this());
  Request req = make_request(body_parser_->get().base());
  req.body_reader = body_reader_;
  read_piece();  // the first piece is on its way while the handler starts
  run_handler(std::move(req));
}

void Connection::read_piece() {
  if (closed() || !body_reader_ || piece_reading_) return;
  piece_.resize(kBodyPiece);
  body_parser_->get().body().data = piece_.data();
  body_parser_->get().body().size = piece_.size();
  body_parser_->get().body().more = true;
  piece_reading_ = true;
  bhttp::async_read_some(
      socket_, buffer_, *body_parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_piece(ec); });
}

void Connection::on_piece(beast::error_code ec) {
  piece_reading_ = false;
  if (ec == bhttp::error::need_buffer) ec = {};
  if (linger_after_piece_) {  // the answer is out: what else comes is dropped
    linger_after_piece_ = false;
    return linger();
  }
  if (ec) return fail_body(ec);
  if (!body_reader_) return;  // the connection closed meanwhile
  size_t n = piece_.size() - body_parser_->get().body().size;
  bool last = body_parser_->is_done();
  if (n == 0 && !last) return read_piece();
  piece_.resize(n);
  body_reader_->deliver(std::exchange(piece_, std::string()), last);
  if (last) {
    body_reader_.reset();
    body_parser_.reset();
  }
}

void Connection::fail_body(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    keep_alive_ = false;
    close_after_ = true;
    return end_body_stream(make_error(
        ErrorCode::kTooLarge,
        fmt::format("request body is over this endpoint's limit of {} bytes", body_limit_)));
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    keep_alive_ = false;
    close_after_ = true;
    return end_body_stream(
        make_error(ErrorCode::kInvalidArgument, "malformed request body: " + ec.message()));
  }
  end_body_stream(make_error(ErrorCode::kUnavailable, "the client went away"));
  close();
}

void Connection::answer_started() {
  if (!streamed_request_ || !body_reader_) return;
  // The body is not all in: the next request cannot be found after it, so the connection
  // closes once the answer is out (after dropping what the client still sends).
  keep_alive_ = false;
  close_after_ = true;
  end_body_stream(make_error(ErrorCode::kUnavailable, "the request was answered"));
}

void Connection::end_body_stream(Error error) {
  auto reader = std::move(body_reader_);
  body_reader_.reset();
  if (reader) reader->fail(std::move(error));
}

void ConnectionBodyReader::deliver(std::string piece, bool last) {
  {
    std::lock_guard lock(mu_);
    piece_ = std::move(piece);
    last_ = last;
  }
  cv_.notify_all();
}

void ConnectionBodyReader::fail(Error error) {
  {
    std::lock_guard lock(mu_);
    if (!error_) error_ = std::move(error);
  }
  cv_.notify_all();
}

Result<std::string> ConnectionBodyReader::read() {
  std::unique_lock lock(mu_);
  if (ended_) return std::string();
  if (!cv_.wait_for(lock, kBodyPieceTimeout, [this] { return piece_ || error_; })) {
    error_ = make_error(ErrorCode::kTimeout,
                        fmt::format("no part of the request body came for {} s",
                                    kBodyPieceTimeout.count()));
    lock.unlock();
    if (auto connection = connection_.lock()) {
      connection->worker().run_on([connection] { connection->close(); });
    }
    return make_error(ErrorCode::kTimeout, "the request body stopped arriving");
  }
  if (!piece_) return *error_;
  std::string out = std::move(*piece_);
  piece_.reset();
  ended_ = last_;
  lock.unlock();
  if (!ended_) {
    if (auto connection = connection_.lock()) {
      connection->worker().run_on([connection] { connection->read_piece(); });
    }
  }
  return out;
}

}  // namespace kumo::http
