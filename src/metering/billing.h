// Billing arithmetic: how a finished invocation turns into billed milliseconds, GB-seconds
// and dollars. Pure functions over values; thread-safe.
//
// The model is AWS Lambda's: duration rounded up to the next whole millisecond, times the
// configured memory, plus a fixed price per request. The default prices are Lambda's x86
// list prices in us-east-1; `kumo serve --price-gb-s/--price-per-million` override them.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace kumo::metering {

struct Prices {
  double per_gb_second = 0.0000166667;  // USD per GB-second
  double per_million_requests = 0.20;   // USD per 1,000,000 requests
};

// Prices from user input (flags, config); rejects negative or non-finite values.
Result<Prices> make_prices(double per_gb_second, double per_million_requests);

// The billed duration: rounded up to the next whole millisecond, at least 1 ms
// (a 0 µs invocation still costs 1 ms, as on Lambda). 1000 µs -> 1, 1001 µs -> 2.
int64_t billed_ms(int64_t duration_us);

// billed_ms/1000 * memory_mb/1024.
double gb_seconds(int64_t billed_ms, int memory_mb);

// gb_seconds * per_gb_second + requests/1e6 * per_million_requests.
double cost(double gb_seconds, int64_t requests, const Prices& prices);

}  // namespace kumo::metering
