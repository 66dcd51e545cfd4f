#include "connectors/connectors.h"

#include "connectors/mqtt_connector.h"
#include "connectors/nats_connector.h"
#include "connectors/redis_connector.h"

namespace kumo::connectors {

std::unique_ptr<Connector> make_connector(const ConnectorConfig& config, events::EventSink& sink) {
  if (std::holds_alternative<NatsConfig>(config.broker)) {
    return std::make_unique<NatsConnector>(config, sink);
  }
  if (std::holds_alternative<MqttConfig>(config.broker)) {
    return std::make_unique<MqttConnector>(config, sink);
  }
  return std::make_unique<RedisConnector>(config, sink);
}

std::unique_ptr<Connectors> start(const std::vector<ConnectorConfig>& configs,
                                  events::EventSink& sink) {
  std::vector<std::unique_ptr<Connector>> connectors;
  for (const auto& config : configs) connectors.push_back(make_connector(config, sink));
  return std::make_unique<Connectors>(std::move(connectors));
}

}  // namespace kumo::connectors
