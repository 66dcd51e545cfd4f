// FunctionCatalogue against a real etcd: versions by compare-and-swap, removals, watches.
#include "cluster/catalogue.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <set>
#include <thread>

#include "cluster/testing/etcd_process.h"

namespace kumo::cluster {
namespace {

CatalogueEntry entry(const std::string& name, const std::string& sha) {
  return {name, 0, R"({"name":")" + name + R"(","runtime":"python3"})", sha, 1234, 1700000000};
}

TEST(CatalogueEntryJson, RoundTripsAndRefusesWhatIsNotAnEntry) {
  CatalogueEntry e = entry("hello", "ab12");
  e.version = 7;
  EXPECT_EQ(parse_entry(entry_json(e)), e);
  EXPECT_FALSE(parse_entry("not json"));
  EXPECT_FALSE(parse_entry(R"({"name":"x","version":"7"})"));
  EXPECT_FALSE(parse_entry(R"([1,2])"));
}

class CatalogueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = testing::start_etcd(why);
    if (!server_) GTEST_SKIP() << why;
    etcd_ = std::move(*Etcd::open({server_->url}));
    etcd_->set_watch_window(std::chrono::milliseconds(300));
    catalogue_ = std::make_unique<FunctionCatalogue>(*etcd_);
  }

  std::unique_ptr<testing::EtcdProcess> server_;
  std::unique_ptr<Etcd> etcd_;
  std::unique_ptr<FunctionCatalogue> catalogue_;
};

TEST_F(CatalogueTest, VersionsCountUpAndTheSamePackageIsNotANewVersion) {
  EXPECT_EQ(catalogue_->publish(entry("hello", "aaa"))->version, 1);
  EXPECT_EQ(catalogue_->publish(entry("hello", "bbb"))->version, 2);
  EXPECT_EQ(catalogue_->publish(entry("hello", "bbb"))->version, 2);  // unchanged
  EXPECT_EQ(catalogue_->publish(entry("other", "aaa"))->version, 1);
  auto found = catalogue_->find("hello");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->sha256, "bbb");
  auto listed = catalogue_->list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->entries.size(), 2u);
  EXPECT_EQ(listed->entries[0].name, "hello");
  EXPECT_EQ(listed->entries[1].name, "other");
}

TEST_F(CatalogueTest, ARemovedFunctionsNumbersNeverRepeat) {
  ASSERT_TRUE(catalogue_->publish(entry("hello", "aaa")));
  ASSERT_TRUE(catalogue_->publish(entry("hello", "bbb")));
  ASSERT_TRUE(catalogue_->remove("hello"));
  EXPECT_FALSE(*catalogue_->find("hello"));
  EXPECT_EQ(catalogue_->remove("hello").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(catalogue_->publish(entry("hello", "aaa"))->version, 3);
}

TEST_F(CatalogueTest, NodesPublishingOneNameAtOnceGetDistinctNumbers) {
  // Two clients, as two nodes would have, each publishing its own packages.
  auto other_etcd = Etcd::open({server_->url});
  ASSERT_TRUE(other_etcd);
  FunctionCatalogue other(**other_etcd);
  std::vector<int> mine, theirs;
  auto deploy = [](FunctionCatalogue& c, const std::string& who, std::vector<int>& out) {
    for (int i = 0; i < 10; ++i) {
      auto published = c.publish(entry("hot", who + std::to_string(i)));
      ASSERT_TRUE(published) << published.error().message;
      out.push_back(published->version);
    }
  };
  std::thread a([&] { deploy(*catalogue_, "a", mine); });
  std::thread b([&] { deploy(other, "b", theirs); });
  a.join();
  b.join();
  std::set<int> all(mine.begin(), mine.end());
  all.insert(theirs.begin(), theirs.end());
  EXPECT_EQ(all.size(), 20u);
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), 20);
  EXPECT_EQ((*catalogue_->find("hot"))->version, 20);
}

TEST_F(CatalogueTest, AWatchFromAListingSeesEveryLaterChangeInOrder) {
  ASSERT_TRUE(catalogue_->publish(entry("before", "aaa")));
  auto listed = catalogue_->list();
  ASSERT_TRUE(listed);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<CatalogueChange> seen;
  auto watch = catalogue_->watch(
      listed->revision,
      [&](const CatalogueChange& c) {
        std::lock_guard lock(mu);
        seen.push_back(c);
        cv.notify_all();
      },
      [] {});
  ASSERT_TRUE(catalogue_->publish(entry("a", "aaa")));
  ASSERT_TRUE(catalogue_->publish(entry("b", "bbb")));
  ASSERT_TRUE(catalogue_->remove("a"));
  ASSERT_TRUE(etcd_->put("kumo/functions/future", R"({"format": 2})"));
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return seen.size() >= 4; }));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].name, "a");
  EXPECT_EQ(seen[0].entry->version, 1);
  EXPECT_EQ(seen[1].name, "b");
  EXPECT_EQ(seen[1].entry->sha256, "bbb");
  EXPECT_EQ(seen[2].name, "a");
  EXPECT_FALSE(seen[2].entry);  // removed
  EXPECT_EQ(seen[3].name, "future");
  EXPECT_FALSE(seen[3].entry);  // unreadable: never run
}

}  // namespace
}  // namespace kumo::cluster
