#include "http/limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <utility>

namespace kumo::http {

int resolve_max_connections(int configured) {
  if (configured > 0) return configured;
  constexpr rlim_t kFloor = 64;
  constexpr rlim_t kCeiling = 10'000;
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY) {
    return static_cast<int>(kCeiling);
  }
  return static_cast<int>(std::clamp(nofile.rlim_cur / 2, kFloor, kCeiling));
}

bool BodyBudget::try_take(uint64_t bytes) {
  uint64_t used = in_use_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) return false;
  } while (!in_use_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

void BodyBudget::give_back(uint64_t bytes) { in_use_.fetch_sub(bytes, std::memory_order_relaxed); }

BodyReservation::BodyReservation(BodyReservation&& other) noexcept
    : budget_(std::move(other.budget_)), bytes_(std::exchange(other.bytes_, 0)) {}

BodyReservation& BodyReservation::operator=(BodyReservation&& other) noexcept {
  if (this != &other) {
    reset();
    budget_ = std::move(other.budget_);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool BodyReservation::grow_to(uint64_t total) {
  if (total <= bytes_) return true;
  if (!budget_ || !budget_->try_take(total - bytes_)) return false;
  bytes_ = total;
  return true;
}

void BodyReservation::reset() {
  if (budget_ && bytes_ > 0) budget_->give_back(bytes_);
  bytes_ = 0;
}

SharedLimits::SharedLimits(const ConnectionLimits& configured)
    : limits(configured), bodies(std::make_shared<BodyBudget>(configured.max_buffered_body_bytes)) {
  limits.max_connections = resolve_max_connections(configured.max_connections);
}

bool SharedLimits::try_open_connection() {
  if (open_connections.fetch_add(1, std::memory_order_relaxed) < limits.max_connections) {
    return true;
  }
  open_connections.fetch_sub(1, std::memory_order_relaxed);
  refused_connections.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void SharedLimits::release_connection() {
  open_connections.fetch_sub(1, std::memory_order_relaxed);
}

ServerStats SharedLimits::stats() const {
  ServerStats s;
  s.open_connections = open_connections.load(std::memory_order_relaxed);
  s.max_connections = limits.max_connections;
  s.refused_connections = refused_connections.load(std::memory_order_relaxed);
  s.accept_failures = accept_failures.load(std::memory_order_relaxed);
  s.buffered_body_bytes = bodies->in_use();
  return s;
}

}  // namespace kumo::http
