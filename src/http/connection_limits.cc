// The parts of Connection that enforce ConnectionLimits: the deadline of each phase of a
// connection (header, body, sending, idle between requests) and the request body's share of the
// server's body budget. See connection.h for the threading rules they follow.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "http/connection.h"

namespace kumo::http {
namespace {

namespace beast = boost::beast;

int64_t ticks(std::chrono::steady_clock::time_point t) { return t.time_since_epoch().count(); }

// How long the deadline timer may sleep (see watch_deadline), never so short that it spins.
std::chrono::milliseconds shortest_timeout(const ConnectionLimits& l) {
  return std::max(std::chrono::milliseconds(10),
                  std::min({l.header_timeout, l.idle_timeout, l.body_timeout, l.send_timeout}));
}

std::string megabytes(uint64_t bytes) {
  return fmt::format("{:.4g} MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

void Connection::arm_deadline(std::chrono::milliseconds after) {
  deadline_at_.store(ticks(std::chrono::steady_clock::now() + after), std::memory_order_relaxed);
}

void Connection::disarm_deadline() { deadline_at_.store(kNoDeadline, std::memory_order_relaxed); }

// Keeps one timer pending for the connection's life, so that a request costs no timer
// operation: it wakes at the deadline or after the shortest timeout, whichever is first. A
// deadline stored since is never sooner than that wake-up, because it is at least the
// shortest timeout away. The handler holds a weak_ptr: it never keeps a connection alive.
void Connection::watch_deadline() {
  if (closed()) return;
  auto now = std::chrono::steady_clock::now();
  int64_t at = deadline_at_.load(std::memory_order_relaxed);
  if (at != kNoDeadline && ticks(now) >= at) {
    spdlog::debug("http connection from {}:{} closed: timed out waiting for the client",
                  remote_address_, remote_port_);
    return close();
  }
  auto wake = now + shortest_timeout(worker_->limits->limits);
  if (at != kNoDeadline) {
    wake = std::min(wake,
                    std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(at)));
  }
  deadline_.expires_at(wake);
  deadline_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->watch_deadline();
  });
}

// Between requests the idle deadline runs; the first piece of the next request replaces it
// with the header deadline (read_header_some), so that the whole header must follow in time.
void Connection::await_request() {
  if (closed()) return;
  const ConnectionLimits& limits = worker_->limits->limits;
  bool started = buffer_.size() > 0;  // the client already sent the start of its next request
  arm_deadline(started ? limits.header_timeout : limits.idle_timeout);
  header_started_ = !started;
  read_header();
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
