#include "common/clock.h"

namespace kumo {

int64_t wall_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace kumo
