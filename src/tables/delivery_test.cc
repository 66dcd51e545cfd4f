#include "tables/delivery.h"

#include <gtest/gtest.h>

#include <thread>

#include "tables/test_util.h"

namespace kumo::tables {
namespace {

using Kind = events::TableChange::Kind;

TEST(ChangeDelivery, DeliversInOrderAndEmptiesTheOutbox) {
  auto store = ItemStore::open(testing::temp_db_path()).value();
  testing::RecordingSink sink;
  ChangeDelivery delivery(*store, sink);
  ASSERT_TRUE(store->create_table("t"));
  ASSERT_TRUE(store->put("t", "k", {{"v", 1}}));
  ASSERT_TRUE(store->put("t", "k", {{"v", 2}}));
  ASSERT_TRUE(store->remove("t", "k"));
  EXPECT_EQ(delivery.deliver_pending().value(), 3);
  auto got = sink.taken();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].kind, Kind::kInsert);
  EXPECT_EQ(got[1].kind, Kind::kModify);
  EXPECT_EQ(got[2].kind, Kind::kRemove);
  EXPECT_EQ(got[1].record["dynamodb"]["OldImage"]["v"]["N"], "1");
  EXPECT_EQ(got[1].record["dynamodb"]["NewImage"]["v"]["N"], "2");
  EXPECT_TRUE(store->pending(10)->empty());
}

TEST(ChangeDelivery, KeepsChangesWhileTheSinkFails) {
  auto store = ItemStore::open(testing::temp_db_path()).value();
  testing::RecordingSink sink;
  sink.failing = true;
  ChangeDelivery delivery(*store, sink);
  ASSERT_TRUE(store->create_table("t"));
  ASSERT_TRUE(store->put("t", "k", {{"v", 1}}));
  EXPECT_FALSE(delivery.deliver_pending());
  EXPECT_EQ(store->pending(10)->size(), 1u);
  {
    std::lock_guard lock(sink.mu);
    sink.failing = false;
  }
  EXPECT_EQ(delivery.deliver_pending().value(), 1);
  EXPECT_EQ(sink.taken().size(), 1u);
}

TEST(ChangeDelivery, TheThreadRetriesUntilTheSinkRecovers) {
  auto store = ItemStore::open(testing::temp_db_path()).value();
  testing::RecordingSink sink;
  sink.failing = true;
  DeliveryOptions options;
  options.first_backoff = std::chrono::milliseconds(5);
  options.max_backoff = std::chrono::milliseconds(20);
  ChangeDelivery delivery(*store, sink, options);
  delivery.start();
  ASSERT_TRUE(store->create_table("t"));
  ASSERT_TRUE(store->put("t", "k", {{"v", 1}}));
  delivery.notify();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::lock_guard lock(sink.mu);
    sink.failing = false;
  }
  for (int i = 0; i < 200 && sink.taken().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  delivery.stop();
  EXPECT_EQ(sink.taken().size(), 1u);
  EXPECT_TRUE(store->pending(10)->empty());
}

TEST(ChangeDelivery, ATenantsUndeliverableChangeGoesToItsOwnDeadLetters) {
  std::string path = testing::temp_db_path();
  auto store = ItemStore::open(path).value();
  testing::RecordingSink sink;
  ChangeDelivery delivery(*store, sink);
  ASSERT_TRUE(store->create_table("acme~t"));
  std::string deep = R"({"a":)" + std::string(50'000, '[') + std::string(50'000, ']') + "}";
  auto db = store::Database::open(path).value();
  ASSERT_TRUE(db->exec("INSERT INTO tables_changes (tbl, kind, key, old_item, new_item, at_us, "
                       "event_id) VALUES ('acme~t', 'INSERT', 'deep', NULL, '" +
                       deep + "', 1, 'e')"));
  EXPECT_EQ(delivery.deliver_pending().value(), 1);
  std::lock_guard lock(sink.mu);
  ASSERT_EQ(sink.published.size(), 1u);
  EXPECT_EQ(sink.published[0].first, "acme~dead-letters");
}

TEST(ChangeDelivery, AChangeWhoseItemCannotBeReadGoesToTheDeadLettersAndTheRestFlow) {
  std::string path = testing::temp_db_path();
  auto store = ItemStore::open(path).value();
  testing::RecordingSink sink;
  ChangeDelivery delivery(*store, sink);
  ASSERT_TRUE(store->create_table("t"));
  ASSERT_TRUE(store->put("t", "before", {{"v", 1}}));
  testing::store_deep_item_unchecked(path);
  ASSERT_TRUE(store->put("t", "after", {{"v", 2}}));

  EXPECT_EQ(delivery.deliver_pending().value(), 3);
  auto got = sink.taken();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].record["dynamodb"]["Keys"]["key"]["S"], "before");
  EXPECT_EQ(got[1].record["dynamodb"]["Keys"]["key"]["S"], "after");
  std::lock_guard lock(sink.mu);
  ASSERT_EQ(sink.published.size(), 1u);
  EXPECT_EQ(sink.published[0].first, "dead-letters");
  auto letter = nlohmann::json::parse(sink.published[0].second.body);
  EXPECT_EQ(letter["source"], "table:t");
  EXPECT_EQ(letter["keys"]["key"]["S"], "deep");
  EXPECT_EQ(letter["eventName"], "INSERT");
  EXPECT_EQ(letter["error"]["message"], "JSON nesting deeper than 128 levels");
  EXPECT_TRUE(store->pending(10)->empty());
}

}  // namespace
}  // namespace kumo::tables
