// Membership against a real etcd: nodes see each other join, leave and die.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include "cluster/testing/etcd_process.h"

namespace kumo::cluster {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto until = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

std::vector<std::string> ids(const Membership& m) {
  std::vector<std::string> out;
  for (const auto& node : m.nodes()) out.push_back(node.id);
  return out;
}

class MembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = testing::start_etcd(why);
    if (!server_) GTEST_SKIP() << why;
    etcd_ = std::move(*Etcd::open({server_->url}));
    etcd_->set_watch_window(milliseconds(300));  // so that stopping a watch is quick
  }
  std::unique_ptr<Membership> join(const std::string& id) {
    auto m = Membership::join(*etcd_, {id, "http://" + id + ":8080"});
    EXPECT_TRUE(m) << m.error().message;
    return m ? std::move(*m) : nullptr;
  }

  std::unique_ptr<testing::EtcdProcess> server_;
  std::unique_ptr<Etcd> etcd_;
};

TEST_F(MembershipTest, NodesSeeEachOtherJoinAndLeave) {
  auto a = join("node-a");
  ASSERT_TRUE(a);
  EXPECT_EQ(ids(*a), std::vector<std::string>{"node-a"});
  auto b = join("node-b");
  ASSERT_TRUE(b);
  EXPECT_EQ(ids(*b), (std::vector<std::string>{"node-a", "node-b"}));  // known on joining
  ASSERT_TRUE(wait_until([&] { return a->nodes().size() == 2; }, std::chrono::seconds(10)));
  EXPECT_EQ(a->nodes()[1], (NodeInfo{"node-b", "http://node-b:8080"}));
  b.reset();  // a clean stop revokes its lease: gone at once, not after the TTL
  ASSERT_TRUE(wait_until([&] { return a->nodes().size() == 1; }, std::chrono::seconds(2)));
  EXPECT_EQ(ids(*a), std::vector<std::string>{"node-a"});
}

TEST_F(MembershipTest, ANodeThatStopsRenewingIsGoneWithinItsTtl) {
  std::vector<std::vector<NodeInfo>> seen;  // before the nodes, whose watches write it
  std::mutex mu;
  auto a = join("node-a");
  auto b = join("node-b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(wait_until([&] { return a->nodes().size() == 2; }, std::chrono::seconds(10)));
  a->set_listener([&](const std::vector<NodeInfo>& nodes) {
    std::lock_guard lock(mu);
    seen.push_back(nodes);
  });
  // Renewals keep a node in well past its TTL...
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(a->nodes().size(), 2u);
  // ...and without them it goes: etcd's lease TTL (3 s) plus its expiry check.
  auto stopped = steady_clock::now();
  b->stop_renewing();
  ASSERT_TRUE(wait_until([&] { return a->nodes().size() == 1; }, std::chrono::seconds(20)));
  EXPECT_LT(steady_clock::now() - stopped, std::chrono::seconds(10));
  std::lock_guard lock(mu);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), (std::vector<NodeInfo>{{"node-a", "http://node-a:8080"}}));
}

TEST_F(MembershipTest, ANodeWhoseLeaseExpiredJoinsAgainOnItsNextRenewal) {
  auto a = join("node-a");
  ASSERT_TRUE(a);
  // Revoked behind its back, as if it had been paused past its TTL.
  auto key = etcd_->get("kumo/nodes/node-a");
  ASSERT_TRUE(key && key->kvs.size() == 1);
  ASSERT_TRUE(etcd_->revoke_lease(key->kvs[0].lease));
  ASSERT_TRUE(wait_until([&] { return !etcd_->get("kumo/nodes/node-a")->kvs.empty() &&
                                      etcd_->get("kumo/nodes/node-a")->kvs[0].lease !=
                                          key->kvs[0].lease; },
                         std::chrono::seconds(10)));
  ASSERT_TRUE(wait_until([&] { return a->nodes().size() == 1; }, std::chrono::seconds(10)));
}

TEST_F(MembershipTest, RefusesAnIdThatCannotBeAKey) {
  EXPECT_EQ(Membership::join(*etcd_, {"", "http://x"}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Membership::join(*etcd_, {"a/b", "http://x"}).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace kumo::cluster
