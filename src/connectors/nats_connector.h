// NatsConnector: a JetStream durable pull consumer that hands each message to the topic and
// acks it only after the sink committed it; a message the sink refused is nak'ed (redelivered
// a second later). Creates the stream (with the configured subjects) and the durable
// consumer when missing. One connection at a time; reconnects itself with backoff.
// Threading: run() on one thread (Connectors); the sink must be thread-safe.
#pragma once

#include "connectors/config.h"
#include "connectors/runner.h"

namespace kumo::connectors {

class NatsConnector final : public Connector {
 public:
  NatsConnector(ConnectorConfig config, events::EventSink& sink);
  void run(std::stop_token stop) override;

 private:
  struct Session;
  Result<void> open(Session& s);
  Result<void> ensure_stream(Session& s);
  Result<void> ensure_consumer(Session& s);
  // Consumes until the connection fails (returns why) or stop is requested.
  std::string consume(Session& s, std::stop_token stop);
  // Delivers and acks a natsMsg (when `try_delivery`), else naks it. True when acked.
  bool settle(void* msg, bool try_delivery);

  ConnectorConfig config_;
  const NatsConfig& nats_;  // config_'s broker
  events::EventSink& sink_;
};

}  // namespace kumo::connectors
