#include "server/wiring.h"

namespace kumo::server {

Result<void> wire_storage(Wiring&) { return {}; }

}  // namespace kumo::server
