// RedisConnector against a real redis-server on 127.0.0.1 and a free port.
#include "connectors/redis_connector.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "connectors/broker_process.h"

namespace kumo::connectors {
namespace {

using testing::BrokerProcess;
using testing::RecordingSink;

class RedisConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ =
        BrokerProcess::start("redis-server", {"--bind", "127.0.0.1", "--port", "{port}", "--save",
                                              "", "--appendonly", "no", "--dir", "{dir}"});
    if (!redis_) GTEST_SKIP() << "redis-server is not installed";
    client_ = redisConnect("127.0.0.1", redis_->port());
    ASSERT_TRUE(client_ != nullptr && client_->err == 0) << redis_->log();
  }
  void TearDown() override {
    running_.reset();
    if (client_ != nullptr) redisFree(client_);
  }

  void start_connector() {
    ConnectorConfig config{"connectors[0]", "jobs",
                           RedisConfig{"127.0.0.1", redis_->port(), "jobs", "kumo", "kumo"}};
    std::vector<std::unique_ptr<Connector>> list;
    list.push_back(std::make_unique<RedisConnector>(config, sink_));
    running_ = std::make_unique<Connectors>(std::move(list));
  }

  // Runs a command; returns its reply's integer or string.
  std::string run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(client_, static_cast<int>(args.size()), argv.data(), lens.data()));
    EXPECT_NE(r, nullptr);
    if (r == nullptr) return "";
    std::string out = r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer)
                      : r->str != nullptr            ? std::string(r->str, r->len)
                                                     : "";
    freeReplyObject(r);
    return out;
  }

  // Entries delivered to the group but not yet XACKed.
  std::string pending_count() {
    auto* r = static_cast<redisReply*>(redisCommand(client_, "XPENDING jobs kumo"));
    std::string n = r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements > 0
                        ? std::to_string(r->element[0]->integer)
                        : "?";
    if (r != nullptr) freeReplyObject(r);
    return n;
  }

  void wait_for_group() {
    for (int i = 0; i < 100; ++i) {
      if (run({"EXISTS", "jobs"}) == "1") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the connector never created the stream and group";
  }

  std::unique_ptr<BrokerProcess> redis_;
  redisContext* client_ = nullptr;
  RecordingSink sink_;
  std::unique_ptr<Connectors> running_;
};

TEST_F(RedisConnectorTest, DeliversEntriesThenAcksThem) {
  start_connector();
  wait_for_group();
  std::string id = run({"XADD", "jobs", "*", "body", "resize a.jpg"});
  run({"XADD", "jobs", "*", "image", "b.jpg"});
  ASSERT_TRUE(sink_.wait_for(2));
  auto got = sink_.published();
  EXPECT_EQ(got[0].topic, "jobs");
  EXPECT_EQ(got[0].message.body, "resize a.jpg");
  EXPECT_EQ(got[0].message.attributes.at("redis_id"), id);
  EXPECT_EQ(got[0].message.attributes.at("redis_stream"), "jobs");
  EXPECT_EQ(got[1].message.body, R"({"image":"b.jpg"})");
  running_.reset();  // joins: every ack was sent
  EXPECT_EQ(pending_count(), "0");
}

TEST_F(RedisConnectorTest, RefusedEntryStaysPendingAndIsDeliveredAgain) {
  sink_.refuse_next(2);
  start_connector();
  wait_for_group();
  run({"XADD", "jobs", "*", "body", "first"});
  run({"XADD", "jobs", "*", "body", "second"});
  ASSERT_TRUE(sink_.wait_for(2));
  auto got = sink_.published();
  EXPECT_EQ(got[0].message.body, "first");  // order kept across the refusals
  EXPECT_EQ(got[1].message.body, "second");
  EXPECT_EQ(sink_.attempts(), 4);
  running_.reset();
  EXPECT_EQ(pending_count(), "0");
}

TEST_F(RedisConnectorTest, ReadsEntriesLeftPendingByAnEarlierRun) {
  // As if Kumo read the entry and died before committing it.
  run({"XGROUP", "CREATE", "jobs", "kumo", "$", "MKSTREAM"});
  run({"XADD", "jobs", "*", "body", "read before a crash"});
  run({"XREADGROUP", "GROUP", "kumo", "kumo", "COUNT", "1", "STREAMS", "jobs", ">"});
  ASSERT_EQ(pending_count(), "1");
  start_connector();
  ASSERT_TRUE(sink_.wait_for(1));
  EXPECT_EQ(sink_.published()[0].message.body, "read before a crash");
  running_.reset();
  EXPECT_EQ(pending_count(), "0");
}

TEST_F(RedisConnectorTest, ReconnectsWhenTheServerComesBack) {
  start_connector();
  wait_for_group();
  int port = redis_->port();
  redis_.reset();  // the server goes away
  redisFree(client_);
  client_ = nullptr;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // A new server on the same port, without the group: the connector creates it again.
  redis_ = BrokerProcess::start_on(port, "redis-server",
                                   {"--bind", "127.0.0.1", "--port", "{port}", "--save", "",
                                    "--appendonly", "no", "--dir", "{dir}"});
  ASSERT_TRUE(redis_);
  client_ = redisConnect("127.0.0.1", port);
  wait_for_group();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  run({"XADD", "jobs", "*", "body", "after the outage"});
  ASSERT_TRUE(sink_.wait_for(1, std::chrono::seconds(15))) << redis_->log();
  EXPECT_EQ(sink_.published()[0].message.body, "after the outage");
}

}  // namespace
}  // namespace kumo::connectors
