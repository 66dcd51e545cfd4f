// MqttConnector: a persistent MQTT session (fixed client id, clean_session=false) subscribed
// at QoS 1, so the broker keeps messages while Kumo is away. libmosquitto 2.0 sends PUBACK
// before it hands a message to us, so a message the sink refuses is retried here, in memory,
// until it is committed or the server stops (docs/connectors.md has the guarantee).
// Threading: run() on one thread (Connectors) drives libmosquitto's loop itself.
#pragma once

#include <stop_token>

#include "connectors/config.h"
#include "connectors/runner.h"

struct mosquitto;
struct mosquitto_message;

namespace kumo::connectors {

class MqttConnector final : public Connector {
 public:
  MqttConnector(ConnectorConfig config, events::EventSink& sink);
  void run(std::stop_token stop) override;

 private:
  static void on_connect(mosquitto* mosq, void* self, int rc);
  // Logs "connected" once the subscription is in place (SUBACK), not at CONNACK.
  static void on_subscribe(mosquitto* mosq, void* self, int mid, int count, const int* granted);
  static void on_message(mosquitto* mosq, void* self, const mosquitto_message* msg);
  // Runs the network loop of one connection until it fails (returns why) or stop.
  std::string serve(mosquitto* mosq, std::stop_token stop);

  ConnectorConfig config_;
  const MqttConfig& mqtt_;  // config_'s broker
  events::EventSink& sink_;
  // Set by run(), read by the callbacks, which run on run()'s thread inside mosquitto_loop.
  std::stop_token stop_;
  bool connected_ = false;  // this connection got its SUBACK
  bool reported_ = false;   // this outage was logged (one line per outage, not per attempt)
};

}  // namespace kumo::connectors
