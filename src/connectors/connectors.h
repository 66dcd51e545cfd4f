// The broker connectors: each entry of the server config's `connectors:` section becomes a
// Connector that consumes from its broker (NATS JetStream, MQTT, Redis Streams) and publishes
// every message to an embedded topic through events::EventSink, acknowledging it upstream
// only after the sink committed it. See docs/connectors.md.
//
// Who may use it: the server (wire_connectors). The returned Connectors owns one thread per
// connector; stop() it before the sink goes away.
#pragma once

#include <memory>
#include <vector>

#include "connectors/config.h"
#include "connectors/runner.h"
#include "events/sink.h"

namespace kumo::connectors {

// Builds the connector for one config entry.
std::unique_ptr<Connector> make_connector(const ConnectorConfig& config, events::EventSink& sink);

// Starts one thread per entry; each connects (and reconnects) in the background.
std::unique_ptr<Connectors> start(const std::vector<ConnectorConfig>& configs,
                                  events::EventSink& sink);

}  // namespace kumo::connectors
