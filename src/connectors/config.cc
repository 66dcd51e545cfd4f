#include "connectors/config.h"
#include "events/triggers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace kumo::connectors {
namespace {

using nlohmann::json;

Error invalid(const std::string& field, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", field, what));
}

// Reads entry[key] into `out` when present; `out` keeps its default otherwise.
Result<void> read_string(const json& entry, const std::string& name, const char* key,
                         std::string& out, bool required = false) {
  if (!entry.contains(key)) {
    if (required) return invalid(name + "." + key, "is required");
    return {};
  }
  const json& v = entry[key];
  if (v.is_number_integer()) {
    out = std::to_string(v.get<int64_t>());  // a YAML scalar like `client_id: 42`
  } else if (!v.is_string() || v.get<std::string>().empty()) {
    return invalid(name + "." + key, "must be a non-empty string");
  } else {
    out = v.get<std::string>();
  }
  return {};
}

Result<void> read_int(const json& entry, const std::string& name, const char* key, int lo, int hi,
                      int& out) {
  if (!entry.contains(key)) return {};
  const json& v = entry[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    return invalid(name + "." + key, fmt::format("must be {}..{}", lo, hi));
  }
  out = static_cast<int>(v.get<int64_t>());
  return {};
}

Result<void> known_keys(const json& entry, const std::string& name,
                        const std::set<std::string>& keys) {
  for (const auto& [key, value] : entry.items()) {
    if (!keys.contains(key)) {
      return invalid(fmt::format("{}.{}", name, key),
                     fmt::format("unknown field (known: {})", fmt::join(keys, ", ")));
    }
  }
  return {};
}

// JetStream stream and consumer names may not hold '.', '*', '>' or whitespace.
bool valid_jetstream_name(const std::string& s) {
  return s.find_first_of(".*> \t\r\n") == std::string::npos;
}

Result<NatsConfig> parse_nats(const json& e, const std::string& n) {
  if (auto k = known_keys(e, n, {"type", "topic", "url", "stream", "subjects", "durable", "batch"});
      !k) {
    return k.error();
  }
  NatsConfig c;
  if (auto r = read_string(e, n, "url", c.url); !r) return r.error();
  if (!c.url.starts_with("nats://")) {
    return invalid(n + ".url", fmt::format("'{}' is not a nats:// URL", c.url));
  }
  if (auto r = read_string(e, n, "stream", c.stream, true); !r) return r.error();
  if (auto r = read_string(e, n, "durable", c.durable); !r) return r.error();
  if (!valid_jetstream_name(c.stream)) {
    return invalid(n + ".stream", "may not contain '.', '*', '>' or spaces");
  }
  if (!valid_jetstream_name(c.durable)) {
    return invalid(n + ".durable", "may not contain '.', '*', '>' or spaces");
  }
  const json subjects = e.value("subjects", json());
  if (!subjects.is_array() || subjects.empty()) {
    return invalid(n + ".subjects", "must be a non-empty list, e.g. [\"events.>\"]");
  }
  for (const json& s : subjects) {
    if (!s.is_string() || s.get<std::string>().empty()) {
      return invalid(n + ".subjects", "each subject must be a non-empty string");
    }
    c.subjects.push_back(s.get<std::string>());
  }
  if (auto r = read_int(e, n, "batch", 1, 1024, c.batch); !r) return r.error();
  return c;
}

Result<MqttConfig> parse_mqtt(const json& e, const std::string& n) {
  if (auto k = known_keys(
          e, n, {"type", "topic", "host", "port", "subscribe", "qos", "client_id", "keepalive"});
      !k) {
    return k.error();
  }
  MqttConfig c;
  if (auto r = read_string(e, n, "host", c.host); !r) return r.error();
  if (auto r = read_int(e, n, "port", 1, 65535, c.port); !r) return r.error();
  if (auto r = read_string(e, n, "subscribe", c.subscribe, true); !r) return r.error();
  // QoS 2 would add a round trip and no guarantee here: libmosquitto hands the message over
  // after it has answered the broker either way (docs/connectors.md).
  if (auto r = read_int(e, n, "qos", 0, 1, c.qos); !r) return r.error();
  if (auto r = read_string(e, n, "client_id", c.client_id); !r) return r.error();
  if (auto r = read_int(e, n, "keepalive", 5, 3600, c.keepalive); !r) return r.error();
  return c;
}

Result<RedisConfig> parse_redis(const json& e, const std::string& n) {
  if (auto k = known_keys(
          e, n,
          {"type", "topic", "host", "port", "stream", "group", "consumer", "count", "from_start"});
      !k) {
    return k.error();
  }
  RedisConfig c;
  if (auto r = read_string(e, n, "host", c.host); !r) return r.error();
  if (auto r = read_int(e, n, "port", 1, 65535, c.port); !r) return r.error();
  if (auto r = read_string(e, n, "stream", c.stream, true); !r) return r.error();
  if (auto r = read_string(e, n, "group", c.group); !r) return r.error();
  if (auto r = read_string(e, n, "consumer", c.consumer); !r) return r.error();
  if (auto r = read_int(e, n, "count", 1, 1024, c.count); !r) return r.error();
  if (e.contains("from_start")) {
    if (!e["from_start"].is_boolean()) return invalid(n + ".from_start", "must be true or false");
    c.from_start = e["from_start"].get<bool>();
  }
  return c;
}

Result<ConnectorConfig> parse_entry(const json& e, const std::string& n) {
  if (!e.is_object()) return invalid(n, "must be a map with a type, e.g. {type: nats, ...}");
  ConnectorConfig c;
  c.name = n;
  std::string type;
  if (auto r = read_string(e, n, "type", type, true); !r) return r.error();
  if (auto r = read_string(e, n, "topic", c.topic, true); !r) return r.error();
  if (!events::valid_topic_name(c.topic)) {
    return invalid(n + ".topic", fmt::format("'{}' is not a topic name (letters, digits, '.', "
                                             "'_', '-'; up to 128)",
                                             c.topic));
  }
  if (type == "nats") {
    auto b = parse_nats(e, n);
    if (!b) return b.error();
    c.broker = std::move(*b);
  } else if (type == "mqtt") {
    auto b = parse_mqtt(e, n);
    if (!b) return b.error();
    c.broker = std::move(*b);
  } else if (type == "redis") {
    auto b = parse_redis(e, n);
    if (!b) return b.error();
    c.broker = std::move(*b);
  } else {
    return invalid(n + ".type", fmt::format("'{}' is not one of nats, mqtt, redis", type));
  }
  return c;
}

}  // namespace

Result<std::vector<ConnectorConfig>> parse_connectors(const nlohmann::json& section) {
  std::vector<ConnectorConfig> out;
  if (section.is_null()) return out;
  if (!section.is_array()) {
    return invalid("connectors", "must be a list, e.g. - {type: nats, stream: EVENTS, ...}");
  }
  for (size_t i = 0; i < section.size(); ++i) {
    auto entry = parse_entry(section[i], fmt::format("connectors[{}]", i));
    if (!entry) return entry.error();
    out.push_back(std::move(*entry));
  }
  return out;
}

std::string describe(const ConnectorConfig& c) {
  struct Visitor {
    std::string operator()(const NatsConfig& b) const {
      return fmt::format("nats {} stream {}", b.url, b.stream);
    }
    std::string operator()(const MqttConfig& b) const {
      return fmt::format("mqtt {}:{} {}", b.host, b.port, b.subscribe);
    }
    std::string operator()(const RedisConfig& b) const {
      return fmt::format("redis {}:{} stream {}", b.host, b.port, b.stream);
    }
  };
  return fmt::format("{} ({} -> topic {})", c.name, std::visit(Visitor{}, c.broker), c.topic);
}

}  // namespace kumo::connectors
