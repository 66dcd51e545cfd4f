// The `connectors:` section of the server config: which brokers Kumo consumes from and
// which embedded topic each one feeds. Parsing only; plain values, no threads.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"

namespace kumo::connectors {

// A JetStream durable consumer on `stream` (created with `subjects` if missing).
struct NatsConfig {
  std::string url = "nats://127.0.0.1:4222";
  std::string stream;
  std::vector<std::string> subjects;
  std::string durable = "kumo";
  int batch = 64;  // messages per fetch
};

// A persistent MQTT session (fixed client id, clean_session=false) subscribed to a filter.
struct MqttConfig {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string subscribe;  // topic filter, wildcards allowed
  int qos = 1;
  std::string client_id = "kumo";
  int keepalive = 30;  // seconds
};

// A Redis Streams consumer group.
struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string stream;
  std::string group = "kumo";
  std::string consumer = "kumo";
  int count = 64;           // entries per XREADGROUP
  bool from_start = false;  // a new group starts at the stream's first entry, not its end
};

struct ConnectorConfig {
  std::string name;   // "connectors[0]", for logs and errors
  std::string topic;  // the embedded topic that receives every message
  std::variant<NatsConfig, MqttConfig, RedisConfig> broker;
};

// Parses the section (null: no connectors). Errors name the entry and field:
// "connectors[1].port: must be 1..65535".
Result<std::vector<ConnectorConfig>> parse_connectors(const nlohmann::json& section);

// One line for logs: "connectors[0] (nats nats://127.0.0.1:4222 stream EVENTS -> topic events)".
std::string describe(const ConnectorConfig& config);

}  // namespace kumo::connectors
