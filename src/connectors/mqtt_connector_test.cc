// MqttConnector against a real mosquitto on 127.0.0.1 and a free port.
#include "connectors/mqtt_connector.h"

#include <gtest/gtest.h>
#include <mosquitto.h>

#include "connectors/broker_process.h"

namespace kumo::connectors {
namespace {

using testing::BrokerProcess;
using testing::RecordingSink;

constexpr char kBrokerConfig[] =
    "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n";

// Publishes one message at QoS 1 and waits for the broker's PUBACK.
bool publish(int port, const std::string& topic, const std::string& payload) {
  mosquitto* m = mosquitto_new(nullptr, true, nullptr);
  bool acked = false;
  mosquitto_user_data_set(m, &acked);
  mosquitto_publish_callback_set(
      m, [](mosquitto*, void* flag, int) { *static_cast<bool*>(flag) = true; });
  bool ok = mosquitto_connect(m, "127.0.0.1", port, 10) == MOSQ_ERR_SUCCESS &&
            mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                              payload.data(), 1, false) == MOSQ_ERR_SUCCESS;
  for (int i = 0; ok && !acked && i < 40; ++i) ok = mosquitto_loop(m, 50, 1) == MOSQ_ERR_SUCCESS;
  mosquitto_disconnect(m);
  mosquitto_destroy(m);
  return ok && acked;
}

class MqttConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mosquitto_lib_init();
    broker_ = BrokerProcess::start("mosquitto", {"-c", "{dir}/broker.conf"}, kBrokerConfig);
    if (!broker_) GTEST_SKIP() << "mosquitto is not installed";
  }

  // Starts the connector and waits until its subscription is in place (a message gets through).
  void start_connector() {
    MqttConfig mqtt{"127.0.0.1", broker_->port(), "sensors/#", 1, "kumo-test", 30};
    ConnectorConfig config{"connectors[0]", "readings", mqtt};
    std::vector<std::unique_ptr<Connector>> list;
    list.push_back(std::make_unique<MqttConnector>(config, sink_));
    running_ = std::make_unique<Connectors>(std::move(list));
    size_t before = sink_.published().size();
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(publish(broker_->port(), "sensors/probe", "probe")) << broker_->log();
      if (sink_.wait_for(before + 1, std::chrono::milliseconds(100))) return;
    }
    FAIL() << "the connector never subscribed:\n" << broker_->log();
  }

  std::unique_ptr<BrokerProcess> broker_;
  RecordingSink sink_;
  std::unique_ptr<Connectors> running_;
};

TEST_F(MqttConnectorTest, DeliversQos1MessagesWithTheirTopic) {
  start_connector();
  ASSERT_TRUE(publish(broker_->port(), "sensors/kitchen/temp", "21.5"));
  auto last = [&] { return sink_.published().back().message; };
  for (int i = 0; i < 100 && last().body != "21.5"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(last().body, "21.5");
  EXPECT_EQ(last().attributes.at("mqtt_topic"), "sensors/kitchen/temp");
  EXPECT_EQ(last().attributes.at("qos"), "1");
  EXPECT_EQ(last().attributes.at("retain"), "false");
  EXPECT_EQ(sink_.published().back().topic, "readings");
}

TEST_F(MqttConnectorTest, BrokerKeepsMessagesWhileStoppedAndTheyArriveOnRestart) {
  start_connector();
  running_.reset();  // a clean disconnect; the session (clean_session=false) stays
  ASSERT_TRUE(publish(broker_->port(), "sensors/door", "opened while away"));
  start_connector();
  bool seen = false;
  for (const auto& p : sink_.published()) seen = seen || p.message.body == "opened while away";
  EXPECT_TRUE(seen);
}

TEST_F(MqttConnectorTest, RefusedMessageIsRetriedUntilCommitted) {
  start_connector();
  size_t before = sink_.published().size();
  sink_.refuse_next(2);
  ASSERT_TRUE(publish(broker_->port(), "sensors/x", "retry me"));
  ASSERT_TRUE(sink_.wait_for(before + 1));
  EXPECT_EQ(sink_.published().back().message.body, "retry me");
}

}  // namespace
}  // namespace kumo::connectors
