// NatsConnector against a real nats-server with JetStream on 127.0.0.1 and a free port.
#include "connectors/nats_connector.h"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include "connectors/broker_process.h"

namespace kumo::connectors {
namespace {

using testing::BrokerProcess;
using testing::RecordingSink;

class NatsConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_ = BrokerProcess::start("nats-server",
                                 {"-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", "{dir}"});
    if (!nats_) GTEST_SKIP() << "nats-server is not installed";
    url_ = "nats://127.0.0.1:" + std::to_string(nats_->port());
    ASSERT_EQ(natsConnection_ConnectTo(&conn_, url_.c_str()), NATS_OK) << nats_->log();
    ASSERT_EQ(natsConnection_JetStream(&js_, conn_, nullptr), NATS_OK);
  }
  void TearDown() override {
    running_.reset();
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (conn_ != nullptr) natsConnection_Destroy(conn_);
  }

  void start_connector() {
    NatsConfig nats{url_, "EVENTS", {"events.>"}, "kumo", 64};
    ConnectorConfig config{"connectors[0]", "events", nats};
    std::vector<std::unique_ptr<Connector>> list;
    list.push_back(std::make_unique<NatsConnector>(config, sink_));
    running_ = std::make_unique<Connectors>(std::move(list));
    // The connector creates the stream; until then a publish has no stream to land in.
    for (int i = 0; i < 100; ++i) {
      jsConsumerInfo* ci = nullptr;
      natsStatus st = js_GetConsumerInfo(&ci, js_, "EVENTS", "kumo", nullptr, nullptr);
      jsConsumerInfo_Destroy(ci);
      if (st == NATS_OK) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the connector never created stream EVENTS and consumer kumo";
  }

  void publish(const std::string& subject, const std::string& data,
               const std::string& tenant = "") {
    natsMsg* msg = nullptr;
    ASSERT_EQ(
        natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())),
        NATS_OK);
    if (!tenant.empty()) {
      ASSERT_EQ(natsMsgHeader_Set(msg, "Tenant", tenant.c_str()), NATS_OK);
    }
    jsPubAck* ack = nullptr;
    EXPECT_EQ(js_PublishMsg(&ack, js_, msg, nullptr, nullptr), NATS_OK);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
  }

  // Messages the durable consumer has not had acked yet (delivered or not).
  int64_t unacked() {
    for (int i = 0; i < 50; ++i) {  // acks are asynchronous: give the server a moment
      jsConsumerInfo* ci = nullptr;
      if (js_GetConsumerInfo(&ci, js_, "EVENTS", "kumo", nullptr, nullptr) != NATS_OK) return -1;
      int64_t n = ci->NumAckPending + static_cast<int64_t>(ci->NumPending);
      jsConsumerInfo_Destroy(ci);
      if (n == 0) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -2;
  }

  std::unique_ptr<BrokerProcess> nats_;
  std::string url_;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  RecordingSink sink_;
  std::unique_ptr<Connectors> running_;
};

TEST_F(NatsConnectorTest, CreatesTheStreamDeliversWithHeadersAndAcks) {
  start_connector();
  publish("events.orders", R"({"order":1})", "acme");
  ASSERT_TRUE(sink_.wait_for(1)) << nats_->log();
  auto got = sink_.published();
  EXPECT_EQ(got[0].topic, "events");
  EXPECT_EQ(got[0].message.body, R"({"order":1})");
  EXPECT_EQ(got[0].message.attributes.at("subject"), "events.orders");
  EXPECT_EQ(got[0].message.attributes.at("Tenant"), "acme");
  EXPECT_EQ(got[0].message.attributes.at("nats_sequence"), "1");
  running_.reset();
  EXPECT_EQ(unacked(), 0);
}

TEST_F(NatsConnectorTest, RefusedMessageIsDeliveredAgain) {
  sink_.refuse_next(1);
  start_connector();
  publish("events.a", "once");
  ASSERT_TRUE(sink_.wait_for(1)) << nats_->log();
  EXPECT_EQ(sink_.published()[0].message.body, "once");
  EXPECT_EQ(sink_.attempts(), 2);
  running_.reset();
  EXPECT_EQ(unacked(), 0);
}

TEST_F(NatsConnectorTest, MessagesPublishedWhileStoppedArriveOnRestart) {
  start_connector();
  running_.reset();
  publish("events.a", "while away");
  start_connector();
  ASSERT_TRUE(sink_.wait_for(1)) << nats_->log();
  EXPECT_EQ(sink_.published()[0].message.body, "while away");
}

TEST_F(NatsConnectorTest, ReconnectsAndSetsUpAServerThatLostItsStream) {
  start_connector();
  int port = nats_->port();
  jsCtx_Destroy(js_);
  natsConnection_Destroy(conn_);
  js_ = nullptr;
  conn_ = nullptr;
  nats_.reset();  // the server goes away with its store
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  nats_ = BrokerProcess::start_on(port, "nats-server",
                                  {"-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", "{dir}"});
  ASSERT_TRUE(nats_);
  ASSERT_EQ(natsConnection_ConnectTo(&conn_, url_.c_str()), NATS_OK) << nats_->log();
  ASSERT_EQ(natsConnection_JetStream(&js_, conn_, nullptr), NATS_OK);
  for (int i = 0; i < 400; ++i) {  // up to the 5 s backoff cap, plus setup
    jsConsumerInfo* ci = nullptr;
    natsStatus st = js_GetConsumerInfo(&ci, js_, "EVENTS", "kumo", nullptr, nullptr);
    jsConsumerInfo_Destroy(ci);
    if (st == NATS_OK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  publish("events.b", "after the outage");
  ASSERT_TRUE(sink_.wait_for(1)) << nats_->log();
  EXPECT_EQ(sink_.published()[0].message.body, "after the outage");
}

}  // namespace
}  // namespace kumo::connectors
