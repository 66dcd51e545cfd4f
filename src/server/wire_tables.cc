#include "server/wiring.h"

namespace kumo::server {

Result<void> wire_tables(Wiring&, events::TableCatalog*& catalog) {
  catalog = nullptr;
  return {};
}

}  // namespace kumo::server
