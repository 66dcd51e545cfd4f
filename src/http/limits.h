// Internal to kumo_http: what the connections of one Server share to stay within its
// ConnectionLimits (server.h): a count of open connections against max_connections, and a
// budget for the request bodies they hold in memory.
//
// The Server owns one SharedLimits and hands a shared_ptr to each Worker; a BodyReservation
// keeps its BodyBudget alive, so a Responder kept past stop() still gives its bytes back.
// Thread-safe: plain atomics, no locks. Beast-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "http/server.h"

namespace kumo::http {

// max_connections as configured, or for 0 half the soft RLIMIT_NOFILE (the other half is left
// to instances, packages and the database), clamped to 64..10000.
int resolve_max_connections(int configured);

class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit) : limit_(limit) {}

  // Takes `bytes` unless that would pass the limit; then takes nothing and returns false.
  bool try_take(uint64_t bytes);
  void give_back(uint64_t bytes);
  uint64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> in_use_{0};
};

// One request's share of a BodyBudget, given back when destroyed or reset. Move-only; used by
// one thread at a time.
class BodyReservation {
 public:
  BodyReservation() = default;
  explicit BodyReservation(std::shared_ptr<BodyBudget> budget) : budget_(std::move(budget)) {}
  ~BodyReservation() { reset(); }
  BodyReservation(BodyReservation&& other) noexcept;
  BodyReservation& operator=(BodyReservation&& other) noexcept;
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;

  // Grows the share to `total` bytes (a no-op when it is already that large); false, with
  // the share unchanged, when the budget has no room.
  bool grow_to(uint64_t total);
  void reset();
  uint64_t bytes() const { return bytes_; }

 private:
  std::shared_ptr<BodyBudget> budget_;
  uint64_t bytes_ = 0;
};

struct SharedLimits {
  explicit SharedLimits(const ConnectionLimits& configured);

  // Takes a connection slot unless max_connections are open; a taken slot is returned with
  // release_connection() once the socket is closed.
  bool try_open_connection();
  void release_connection();
  ServerStats stats() const;

  ConnectionLimits limits;  // max_connections resolved
  std::shared_ptr<BodyBudget> bodies;
  std::atomic<int64_t> open_connections{0};
  std::atomic<int64_t> refused_connections{0};
  std::atomic<int64_t> accept_failures{0};
};

}  // namespace kumo::http
