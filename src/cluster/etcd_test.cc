// Etcd against a real etcd (Debian's etcd-server) started on loopback for each test.
#include "cluster/etcd.h"

#include <gtest/gtest.h>

#include <condition_variable>

#include "cluster/testing/etcd_process.h"

namespace kumo::cluster {
namespace {

using std::chrono::seconds;

// Collects what a watch reports and waits for enough of it.
class Recorder {
 public:
  Watch::Callback callback() {
    return [this](const WatchUpdate& u) {
      std::lock_guard lock(mu_);
      if (u.compacted) ++compactions_;
      for (const auto& e : u.events) events_.push_back(e);
      cv_.notify_all();
    };
  }
  std::vector<WatchEvent> wait_for(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, seconds(30), [&] { return events_.size() >= n; });
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WatchEvent> events_;
  int compactions_ = 0;
};

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = testing::start_etcd(why);
    if (!server_) GTEST_SKIP() << why;
    auto etcd = Etcd::open({url()});
    ASSERT_TRUE(etcd);
    etcd_ = std::move(*etcd);
  }
  std::string url() const { return server_->url; }

  std::unique_ptr<testing::EtcdProcess> server_;
  std::unique_ptr<Etcd> etcd_;
};

TEST_F(EtcdTest, PutsGetsListsByPrefixAndErases) {
  ASSERT_TRUE(etcd_->put("fn/b", "two"));
  ASSERT_TRUE(etcd_->put("fn/a", std::string("one\0bytes", 9)));
  ASSERT_TRUE(etcd_->put("fo", "not under fn/"));
  auto listed = etcd_->list("fn/");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->kvs.size(), 2u);
  EXPECT_EQ(listed->kvs[0].key, "fn/a");
  EXPECT_EQ(listed->kvs[0].value, std::string("one\0bytes", 9));
  EXPECT_EQ(listed->kvs[1].key, "fn/b");
  EXPECT_GE(listed->revision, listed->kvs[1].mod_revision);

  EXPECT_TRUE(etcd_->get("fn/missing")->kvs.empty());
  EXPECT_EQ(*etcd_->erase("fn/a"), 1);
  EXPECT_EQ(*etcd_->erase("fn/a"), 0);
  EXPECT_EQ(etcd_->list("fn/")->kvs.size(), 1u);
}

TEST_F(EtcdTest, PutIfAndEraseIfCompareTheModRevision) {
  EXPECT_TRUE(*etcd_->put_if("leader", "node-1", 0));
  EXPECT_FALSE(*etcd_->put_if("leader", "node-2", 0));  // taken
  int64_t rev = etcd_->get("leader")->kvs.at(0).mod_revision;
  EXPECT_FALSE(*etcd_->put_if("leader", "node-2", rev + 1));
  EXPECT_TRUE(*etcd_->put_if("leader", "node-1 again", rev));
  EXPECT_FALSE(*etcd_->erase_if("leader", rev));  // moved on
  int64_t now = etcd_->get("leader")->kvs.at(0).mod_revision;
  EXPECT_TRUE(*etcd_->erase_if("leader", now));
  EXPECT_TRUE(etcd_->get("leader")->kvs.empty());
  EXPECT_FALSE(*etcd_->erase_if("leader", 0));
}

TEST_F(EtcdTest, KeysOfALeaseGoWithIt) {
  auto lease = etcd_->grant_lease(30);
  ASSERT_TRUE(lease) << lease.error().message;
  ASSERT_TRUE(etcd_->put("nodes/a", "alive", *lease));
  EXPECT_EQ(etcd_->get("nodes/a")->kvs.at(0).lease, *lease);
  auto ttl = etcd_->keep_alive(*lease);
  ASSERT_TRUE(ttl) << ttl.error().message;
  EXPECT_GT(*ttl, 0);
  ASSERT_TRUE(etcd_->revoke_lease(*lease));
  EXPECT_TRUE(etcd_->get("nodes/a")->kvs.empty());
  EXPECT_EQ(etcd_->keep_alive(*lease).error().code, ErrorCode::kNotFound);
}

TEST_F(EtcdTest, ALeaseNotKeptAliveExpires) {
  auto lease = etcd_->grant_lease(2);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(etcd_->put("nodes/b", "alive", *lease));
  for (int i = 0; i < 300 && !etcd_->get("nodes/b")->kvs.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(etcd_->get("nodes/b")->kvs.empty());
  EXPECT_EQ(etcd_->keep_alive(*lease).error().code, ErrorCode::kNotFound);
}

TEST_F(EtcdTest, AWatchReportsEveryChangeOnceInOrderAcrossWindows) {
  ASSERT_TRUE(etcd_->put("fn/before", "x"));
  auto listed = etcd_->list("fn/");
  ASSERT_TRUE(listed);
  etcd_->set_watch_window(std::chrono::milliseconds(150));  // many requests, one stream
  Recorder recorder;
  auto watch = etcd_->watch("fn/", listed->revision, recorder.callback());
  constexpr int kChanges = 20;
  for (int i = 0; i < kChanges; ++i) {
    ASSERT_TRUE(etcd_->put("fn/" + std::to_string(i), "v"));
    ASSERT_TRUE(etcd_->put("other/" + std::to_string(i), "not watched"));
    if (i % 5 == 4) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(*etcd_->erase("fn/before"), 1);
  auto events = recorder.wait_for(kChanges + 1);
  ASSERT_EQ(events.size(), size_t{kChanges + 1});
  for (int i = 0; i < kChanges; ++i) {
    EXPECT_EQ(events[i].kv.key, "fn/" + std::to_string(i));
    EXPECT_EQ(events[i].type, WatchEvent::Type::kPut);
    if (i > 0) {
      EXPECT_GT(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);
    }
  }
  EXPECT_EQ(events.back().kv.key, "fn/before");
  EXPECT_EQ(events.back().type, WatchEvent::Type::kDelete);
}

TEST_F(EtcdTest, AnotherEndpointAnswersWhenTheFirstIsDown) {
  std::string dead = "http://127.0.0.1:" + std::to_string(kumo::testing::free_port());
  auto etcd = Etcd::open({dead, url()}, seconds(2));
  ASSERT_TRUE(etcd);
  ASSERT_TRUE((*etcd)->put("k", "v"));
  EXPECT_EQ((*etcd)->get("k")->kvs.at(0).value, "v");
}

TEST(EtcdOpen, RefusesBadEndpointsAndReportsAClusterThatIsDown) {
  EXPECT_EQ(Etcd::open({}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Etcd::open({"https://etcd:2379"}).error().code, ErrorCode::kInvalidArgument);
  auto etcd = Etcd::open({"http://127.0.0.1:" + std::to_string(kumo::testing::free_port())});
  ASSERT_TRUE(etcd);
  auto r = (*etcd)->put("k", "v");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace kumo::cluster
