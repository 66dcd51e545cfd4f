#include "server/wiring.h"

namespace kumo::server {

Result<void> wire_connectors(Wiring&) { return {}; }

}  // namespace kumo::server
