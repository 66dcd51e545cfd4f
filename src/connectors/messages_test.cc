#include "connectors/messages.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kumo::connectors {
namespace {

TEST(Messages, NatsCarriesSubjectSequenceAndHeaders) {
  auto m = nats_message("events.orders", 42, {{"Trace", "a"}, {"Trace", "b"}, {"Tenant", "x"}},
                        R"({"id":1})");
  EXPECT_EQ(m.body, R"({"id":1})");
  EXPECT_EQ(m.attributes.at("subject"), "events.orders");
  EXPECT_EQ(m.attributes.at("nats_sequence"), "42");
  EXPECT_EQ(m.attributes.at("Trace"), "a,b");
  EXPECT_EQ(m.attributes.at("Tenant"), "x");
}

TEST(Messages, NatsHeaderCannotHideTheSubject) {
  auto m = nats_message("events.a", 1, {{"subject", "forged"}}, "x");
  EXPECT_EQ(m.attributes.at("subject"), "events.a");
}

TEST(Messages, MqttKeepsBinaryPayloadAndDescribesDelivery) {
  std::string payload("\x00\x01\xff", 3);
  auto m = mqtt_message("sensors/kitchen/temp", 1, true, payload);
  EXPECT_EQ(m.body, payload);
  EXPECT_EQ(m.attributes.at("mqtt_topic"), "sensors/kitchen/temp");
  EXPECT_EQ(m.attributes.at("qos"), "1");
  EXPECT_EQ(m.attributes.at("retain"), "true");
}

TEST(Messages, RedisUsesTheBodyFieldWhenPresent) {
  auto m = redis_message("jobs", "1700000000000-0", {{"body", "resize a.jpg"}, {"prio", "1"}});
  EXPECT_EQ(m.body, "resize a.jpg");
  EXPECT_EQ(m.attributes.at("redis_stream"), "jobs");
  EXPECT_EQ(m.attributes.at("redis_id"), "1700000000000-0");
}

TEST(Messages, RedisWithoutBodyFieldSendsAllFieldsAsJson) {
  auto m = redis_message("jobs", "1-0", {{"image", "a.jpg"}, {"width", "128"}});
  EXPECT_EQ(nlohmann::json::parse(m.body), nlohmann::json({{"image", "a.jpg"}, {"width", "128"}}));
}

TEST(Messages, RedisFieldsThatAreNotUtf8StillMakeJson) {
  auto m = redis_message("jobs", "1-0", {{"raw", std::string("\xff\xfe", 2)}});
  EXPECT_TRUE(nlohmann::json::accept(m.body)) << m.body;
}

}  // namespace
}  // namespace kumo::connectors
