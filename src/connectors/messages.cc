#include "connectors/messages.h"

#include <nlohmann/json.hpp>

namespace kumo::connectors {

events::Message nats_message(const std::string& subject, uint64_t stream_sequence,
                             const Fields& headers, std::string data) {
  events::Message m;
  m.body = std::move(data);
  for (const auto& [key, value] : headers) {
    auto [it, inserted] = m.attributes.emplace(key, value);
    if (!inserted) it->second += "," + value;
  }
  m.attributes["subject"] = subject;
  m.attributes["nats_sequence"] = std::to_string(stream_sequence);
  return m;
}

events::Message mqtt_message(const std::string& topic, int qos, bool retain, std::string payload) {
  events::Message m;
  m.body = std::move(payload);
  m.attributes["mqtt_topic"] = topic;
  m.attributes["qos"] = std::to_string(qos);
  m.attributes["retain"] = retain ? "true" : "false";
  return m;
}

events::Message redis_message(const std::string& stream, const std::string& id,
                              const Fields& fields) {
  events::Message m;
  nlohmann::json object = nlohmann::json::object();
  bool has_body = false;
  for (const auto& [key, value] : fields) {
    if (key == "body") {
      m.body = value;
      has_body = true;
    }
    object[key] = value;
  }
  // Field values are bytes; invalid UTF-8 is replaced rather than failing the message.
  if (!has_body) m.body = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  m.attributes["redis_stream"] = stream;
  m.attributes["redis_id"] = id;
  return m;
}

}  // namespace kumo::connectors
