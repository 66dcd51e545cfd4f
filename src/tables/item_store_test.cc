#include "tables/item_store.h"

#include <gtest/gtest.h>

#include "tables/test_util.h"

namespace kumo::tables {
namespace {

using nlohmann::json;
using Kind = events::TableChange::Kind;

std::unique_ptr<ItemStore> open_store(const std::string& path) {
  auto store = ItemStore::open(path);
  EXPECT_TRUE(store) << store.error().message;
  return std::move(*store);
}

TEST(ItemStore, TablesAreCreatedOnceListedAndDropped) {
  auto store = open_store(testing::temp_db_path());
  EXPECT_EQ(store->create_table("users").value(), true);
  EXPECT_EQ(store->create_table("users").value(), false);
  ASSERT_TRUE(store->create_table("orders"));
  ASSERT_TRUE(store->put("users", "u1", {{"a", 1}}));
  auto list = store->list_tables();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "orders");
  EXPECT_EQ((*list)[1].name, "users");
  EXPECT_EQ((*list)[1].items, 1);
  EXPECT_EQ(store->drop_table("users").value(), 1);
  EXPECT_EQ(store->has_table("users").value(), false);
  EXPECT_EQ(store->drop_table("users").error().code, ErrorCode::kNotFound);
}

TEST(ItemStore, MissingTableIsNotFoundAndSaysHowToCreateIt) {
  auto store = open_store(testing::temp_db_path());
  auto r = store->put("nope", "k", {{"a", 1}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("kumo table create nope"), std::string::npos);
  EXPECT_EQ(store->get("nope", "k").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->query("nope", "", "", 10).error().code, ErrorCode::kNotFound);
}

TEST(ItemStore, WritesRecordInsertModifyRemoveWithImages) {
  auto store = open_store(testing::temp_db_path());
  ASSERT_TRUE(store->create_table("users"));
  auto first = store->put("users", "u1", {{"name", "ada"}});
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->created);
  auto second = store->put("users", "u1", {{"name", "grace"}});
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created);
  EXPECT_TRUE(second->changed);
  ASSERT_TRUE(store->remove("users", "u1"));

  auto pending = store->pending(10);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 3u);
  const auto& c = *pending;
  EXPECT_EQ(c[0].kind, Kind::kInsert);
  EXPECT_TRUE(c[0].old_item.is_null());
  EXPECT_EQ(c[0].new_item, json({{"name", "ada"}}));
  EXPECT_EQ(c[1].kind, Kind::kModify);
  EXPECT_EQ(c[1].old_item, json({{"name", "ada"}}));
  EXPECT_EQ(c[1].new_item, json({{"name", "grace"}}));
  EXPECT_EQ(c[2].kind, Kind::kRemove);
  EXPECT_EQ(c[2].old_item, json({{"name", "grace"}}));
  EXPECT_TRUE(c[2].new_item.is_null());
  EXPECT_LT(c[0].sequence, c[1].sequence);
  EXPECT_LT(c[1].sequence, c[2].sequence);
  EXPECT_EQ(c[0].keys, json::parse(R"({"key": {"S": "u1"}})"));
  EXPECT_EQ(c[0].table, "users");
  EXPECT_EQ(c[0].event_id.size(), 32u);
  EXPECT_NE(c[0].event_id, c[1].event_id);
}

TEST(ItemStore, AnIdenticalPutRecordsNoChange) {
  auto store = open_store(testing::temp_db_path());
  ASSERT_TRUE(store->create_table("t"));
  ASSERT_TRUE(store->put("t", "k", json::parse(R"({"a": 1, "b": [true]})")));
  auto again = store->put("t", "k", json::parse(R"({"b": [true], "a": 1})"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(store->pending(10)->size(), 1u);
}

TEST(ItemStore, RemovingAMissingItemIsNotFoundAndRecordsNothing) {
  auto store = open_store(testing::temp_db_path());
  ASSERT_TRUE(store->create_table("t"));
  EXPECT_EQ(store->remove("t", "k").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store->pending(10)->empty());
}

TEST(ItemStore, AckedChangesLeaveTheOutboxAndSequencesKeepIncreasing) {
  std::string path = testing::temp_db_path();
  int64_t last = 0;
  {
    auto store = open_store(path);
    ASSERT_TRUE(store->create_table("t"));
    ASSERT_TRUE(store->put("t", "a", {{"v", 1}}));
    ASSERT_TRUE(store->put("t", "b", {{"v", 1}}));
    auto pending = store->pending(10).value();
    ASSERT_TRUE(store->ack(pending[0].sequence));
    last = pending[1].sequence;
  }
  auto store = open_store(path);  // reopened: the unacked change is still there
  auto pending = store->pending(10).value();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].sequence, last);
  ASSERT_TRUE(store->ack(last));
  ASSERT_TRUE(store->put("t", "c", {{"v", 1}}));
  EXPECT_GT(store->pending(10).value()[0].sequence, last);  // never reused after an ack
}

TEST(ItemStore, QueryByPrefixPagesInKeyOrder) {
  auto store = open_store(testing::temp_db_path());
  ASSERT_TRUE(store->create_table("t"));
  for (const char* key : {"user/3", "user/1", "order/1", "user/2", "user0", "user/10"}) {
    ASSERT_TRUE(store->put("t", key, {{"k", key}}));
  }
  auto page = store->query("t", "user/", "", 2);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].key, "user/1");
  EXPECT_EQ(page->items[1].key, "user/10");
  EXPECT_EQ(page->items[1].value, json({{"k", "user/10"}}));
  ASSERT_TRUE(page->next);
  page = store->query("t", "user/", *page->next, 2);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].key, "user/2");
  EXPECT_EQ(page->items[1].key, "user/3");
  EXPECT_FALSE(page->next);  // nothing after user/3 with the prefix

  auto all = store->query("t", "", "", 100);
  ASSERT_EQ(all->items.size(), 6u);
  EXPECT_EQ(all->items.front().key, "order/1");
  EXPECT_EQ(all->items.back().key, "user0");
}

TEST(ItemStore, ItemsSurviveReopening) {
  std::string path = testing::temp_db_path();
  {
    auto store = open_store(path);
    ASSERT_TRUE(store->create_table("t"));
    ASSERT_TRUE(store->put("t", "k", {{"nested", {{"x", 1.5}}}}));
  }
  auto store = open_store(path);
  auto item = store->get("t", "k");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->value, json::parse(R"({"nested": {"x": 1.5}})"));
  EXPECT_GT(item->updated_us, 0);
}

TEST(ItemStore, AnItemThatCannotBeReadIsAnErrorForGetAndLeftOutOfQueries) {
  std::string path = testing::temp_db_path();
  auto store = ItemStore::open(path).value();
  ASSERT_TRUE(store->create_table("t"));
  ASSERT_TRUE(store->put("t", "good", {{"v", 1}}));
  testing::store_deep_item_unchecked(path);
  auto deep = store->get("t", "deep");
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, ErrorCode::kInternal);
  EXPECT_NE(deep.error().message.find("JSON nesting deeper than 128 levels"), std::string::npos);
  auto page = store->query("t", "", "", 10).value();
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].key, "good");
  EXPECT_TRUE(store->remove("t", "deep"));
}

}  // namespace
}  // namespace kumo::tables
