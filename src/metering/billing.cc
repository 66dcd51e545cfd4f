#include "metering/billing.h"

#include <cmath>

#include <fmt/format.h>

namespace kumo::metering {
namespace {

Result<void> check_price(const char* flag, double value) {
  if (std::isfinite(value) && value >= 0) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("{} must be a price in USD >= 0, got {}", flag, value));
}

}  // namespace

Result<Prices> make_prices(double per_gb_second, double per_million_requests) {
  if (auto r = check_price("--price-gb-s", per_gb_second); !r) return r.error();
  if (auto r = check_price("--price-per-million", per_million_requests); !r) return r.error();
  return Prices{per_gb_second, per_million_requests};
}

int64_t billed_ms(int64_t duration_us) {
  if (duration_us <= 0) return 1;
  return (duration_us + 999) / 1000;
}

double gb_seconds(int64_t billed_ms, int memory_mb) {
  return static_cast<double>(billed_ms) / 1000.0 * static_cast<double>(memory_mb) / 1024.0;
}

double cost(double gb_seconds, int64_t requests, const Prices& prices) {
  return gb_seconds * prices.per_gb_second +
         static_cast<double>(requests) / 1e6 * prices.per_million_requests;
}

}  // namespace kumo::metering
