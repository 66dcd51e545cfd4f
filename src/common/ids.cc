#include "common/ids.h"

#include <cstdint>
#include <random>

#include <fmt/format.h>

namespace kumo {
namespace {

uint64_t random64() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

}  // namespace

std::string new_request_id() {
  uint64_t hi = random64();
  uint64_t lo = random64();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                       // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

std::string new_short_id() { return fmt::format("{:016x}", random64()); }

}  // namespace kumo
