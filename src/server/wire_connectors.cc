#include <memory>

#include "connectors/connectors.h"
#include "server/wiring.h"

namespace kumo::server {

// Starts one thread per entry of the `connectors:` section. Brokers that are down are not an
// error here: each connector keeps retrying in the background and logs once per outage.
Result<void> wire_connectors(Wiring& w) {
  auto configs = connectors::parse_connectors(w.config);
  if (!configs) return configs.error();
  if (configs->empty()) return {};
  std::shared_ptr<connectors::Connectors> running = connectors::start(*configs, w.events);
  w.on_stop.push_back([running] { running->stop(); });
  return {};
}

}  // namespace kumo::server
