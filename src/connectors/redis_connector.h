// RedisConnector: one consumer of a Redis Streams consumer group (XGROUP CREATE ... MKSTREAM
// when missing). On every connection it first re-reads this consumer's pending entries
// (delivered earlier but never XACKed), then blocks for new ones. Each entry is XACKed only
// after the sink committed it; a refused entry stays pending and is read again after a pause.
// Threading: run() on one thread (Connectors); the sink must be thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <stop_token>

#include "connectors/config.h"
#include "connectors/messages.h"
#include "connectors/runner.h"

struct redisContext;
struct redisReply;

namespace kumo::connectors {

// One stream entry from an XREADGROUP reply; no fields for an entry deleted while pending.
struct StreamEntry {
  std::string id;
  std::optional<Fields> fields;
};

class RedisConnector final : public Connector {
 public:
  RedisConnector(ConnectorConfig config, events::EventSink& sink);
  void run(std::stop_token stop) override;

 private:
  using Context = std::unique_ptr<redisContext, void (*)(redisContext*)>;
  Result<Context> open();
  // Consumes until the connection fails (returns why) or stop is requested.
  std::string consume(redisContext* c, std::stop_token stop);
  // Delivers and acks entries in order up to the first one the sink refuses; returns how
  // many were acked.
  Result<size_t> deliver_all(redisContext* c, const std::vector<StreamEntry>& entries);

  ConnectorConfig config_;
  const RedisConfig& redis_;  // config_'s broker
  events::EventSink& sink_;
};

}  // namespace kumo::connectors
