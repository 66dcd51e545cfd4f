#include "connectors/config.h"

#include <gtest/gtest.h>

namespace kumo::connectors {
namespace {

using nlohmann::json;

std::string error_of(const json& section) {
  auto r = parse_connectors(section);
  EXPECT_FALSE(r.has_value());
  return r ? "" : r.error().message;
}

TEST(ConnectorConfig, AbsentSectionMeansNoConnectors) {
  auto r = parse_connectors(nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->empty());
}

TEST(ConnectorConfig, ParsesTheThreeKindsWithDefaults) {
  auto r = parse_connectors(json::parse(R"([
    {"type": "nats", "url": "nats://127.0.0.1:4222", "stream": "EVENTS",
     "subjects": ["events.>"], "durable": "kumo", "topic": "events"},
    {"type": "mqtt", "host": "127.0.0.1", "port": 1883, "subscribe": "sensors/#", "qos": 1,
     "client_id": "kumo", "topic": "readings"},
    {"type": "redis", "stream": "jobs", "topic": "jobs"}
  ])"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  const auto& nats = std::get<NatsConfig>((*r)[0].broker);
  EXPECT_EQ(nats.stream, "EVENTS");
  EXPECT_EQ(nats.subjects, std::vector<std::string>{"events.>"});
  EXPECT_EQ((*r)[0].topic, "events");
  const auto& mqtt = std::get<MqttConfig>((*r)[1].broker);
  EXPECT_EQ(mqtt.subscribe, "sensors/#");
  EXPECT_EQ(mqtt.qos, 1);
  const auto& redis = std::get<RedisConfig>((*r)[2].broker);
  EXPECT_EQ(redis.host, "127.0.0.1");
  EXPECT_EQ(redis.port, 6379);
  EXPECT_EQ(redis.group, "kumo");
  EXPECT_EQ(redis.consumer, "kumo");
  EXPECT_FALSE(redis.from_start);
  EXPECT_EQ(describe((*r)[2]), "connectors[2] (redis 127.0.0.1:6379 stream jobs -> topic jobs)");
}

TEST(ConnectorConfig, ErrorsNameTheEntryAndField) {
  EXPECT_EQ(error_of(json::parse(R"([{"type": "redis", "stream": "s", "topic": "t"},
                                     {"type": "mqtt", "subscribe": "a/#", "topic": "t",
                                      "port": 70000}])")),
            "connectors[1].port: must be 1..65535");
  EXPECT_EQ(error_of(json::parse(R"([{"type": "kafka", "topic": "t"}])")),
            "connectors[0].type: 'kafka' is not one of nats, mqtt, redis");
  EXPECT_EQ(error_of(json::parse(R"([{"type": "redis", "topic": "t"}])")),
            "connectors[0].stream: is required");
  EXPECT_EQ(error_of(json::parse(R"([{"type": "redis", "stream": "s"}])")),
            "connectors[0].topic: is required");
  EXPECT_EQ(error_of(json::parse(R"([{"type": "mqtt", "subscribe": "a", "topic": "t",
                                      "qos": 2}])")),
            "connectors[0].qos: must be 0..1");
  EXPECT_EQ(error_of(json::parse(R"({"type": "redis"})")),
            "connectors: must be a list, e.g. - {type: nats, stream: EVENTS, ...}");
}

TEST(ConnectorConfig, RejectsTyposBadTopicsAndBadNatsNames) {
  EXPECT_NE(error_of(json::parse(R"([{"type": "redis", "stream": "s", "topic": "t",
                                      "gruop": "g"}])"))
                .find("connectors[0].gruop: unknown field"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"([{"type": "redis", "stream": "s", "topic": "a b"}])"))
                .find("connectors[0].topic: 'a b' is not a topic name"),
            std::string::npos);
  EXPECT_EQ(error_of(json::parse(R"([{"type": "nats", "stream": "A.B", "subjects": ["x"],
                                      "topic": "t"}])")),
            "connectors[0].stream: may not contain '.', '*', '>' or spaces");
  EXPECT_EQ(error_of(json::parse(R"([{"type": "nats", "stream": "A", "topic": "t"}])")),
            "connectors[0].subjects: must be a non-empty list, e.g. [\"events.>\"]");
  EXPECT_EQ(error_of(json::parse(R"([{"type": "nats", "stream": "A", "subjects": ["x"],
                                      "url": "http://x", "topic": "t"}])")),
            "connectors[0].url: 'http://x' is not a nats:// URL");
  EXPECT_EQ(error_of(json::parse(R"(["nats"])")),
            "connectors[0]: must be a map with a type, e.g. {type: nats, ...}");
}

}  // namespace
}  // namespace kumo::connectors
