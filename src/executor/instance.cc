#include "executor/instance.h"

namespace kumo::executor {

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kError:
      return "error";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kCrash:
      return "crash";
    case Outcome::kOom:
      return "oom";
    case Outcome::kInitError:
      return "init_error";
    case Outcome::kThrottled:
      return "throttled";
  }
  return "unknown";
}

}  // namespace kumo::executor
