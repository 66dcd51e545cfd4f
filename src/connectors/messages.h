// How a broker's message becomes an embedded-topic message: the body as received and the
// attributes a function finds in its queue event's Records[].attributes. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "events/sink.h"

namespace kumo::connectors {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Attributes: subject, nats_sequence (the stream sequence, the same on every redelivery)
// and each NATS header (several values of one header joined with ",").
events::Message nats_message(const std::string& subject, uint64_t stream_sequence,
                             const Fields& headers, std::string data);

// Attributes: mqtt_topic, qos ("0"/"1"), retain ("true"/"false").
events::Message mqtt_message(const std::string& topic, int qos, bool retain, std::string payload);

// Body: the entry's "body" field if it has one, else all fields as a JSON object of strings.
// Attributes: redis_stream, redis_id.
events::Message redis_message(const std::string& stream, const std::string& id,
                              const Fields& fields);

}  // namespace kumo::connectors
