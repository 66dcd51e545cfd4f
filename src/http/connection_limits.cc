// The parts of Connection that enforce ConnectionLimits: the deadline of each phase of a
// connection (header, body, idle between requests) and the request body's share of the
// server's body budget. See connection.h for the threading rules they follow.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/connection.h"

namespace kumo::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;

std::string megabytes(uint64_t bytes) {
  return fmt::format("{:.4g} MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

// One timer serves every phase: arming it again replaces the previous deadline. The handler
// holds only a weak_ptr, so a pending deadline never keeps a finished connection alive.
void Connection::arm_deadline(std::chrono::milliseconds after) {
  if (closed()) return;
  uint64_t epoch = ++deadline_epoch_;
  deadline_.expires_after(after);
  deadline_.async_wait([weak = weak_from_this(), epoch](beast::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self || self->deadline_epoch_.load() != epoch) return;
    spdlog::debug("http connection from {}:{} closed: timed out waiting for the client",
                  self->remote_address_, self->remote_port_);
    self->close();
  });
}

void Connection::disarm_deadline() {
  ++deadline_epoch_;
  deadline_.cancel();
}

void Connection::await_request() {
  if (closed()) return;
  const ConnectionLimits& limits = worker_->limits->limits;
  if (buffer_.size() > 0) {  // the client already sent the start of its next request
    arm_deadline(limits.header_timeout);
    return read_header();
  }
  arm_deadline(limits.idle_timeout);
  socket_.async_wait(net::socket_base::wait_read,
                     [self = shared_from_this()](beast::error_code ec) {
                       if (ec) return self->close();
                       self->arm_deadline(self->worker_->limits->limits.header_timeout);
                       self->read_header();
                     });
}

bool Connection::reserve_body(uint64_t bytes) {
  if (body_reservation_.grow_to(bytes)) return true;
  const BodyBudget& budget = *worker_->limits->bodies;
  if (bytes > budget.limit()) {
    reply_and_close(error_response(
        413, "too_large",
        fmt::format("request body of {} is over the {} this server holds in memory for all "
                    "requests together",
                    megabytes(bytes), megabytes(budget.limit()))));
    return false;
  }
  Response busy = error_response(
      503, "unavailable",
      fmt::format("the server is holding {} of request bodies, its limit; retry shortly",
                  megabytes(budget.limit())));
  busy.headers.emplace_back("Retry-After", "1");
  reply_and_close(std::move(busy));
  return false;
}

}  // namespace kumo::http
