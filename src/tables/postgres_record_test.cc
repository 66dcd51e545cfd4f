#include <gtest/gtest.h>

#include "tables/postgres_watcher.h"

namespace kumo::tables {
namespace {

using nlohmann::json;
using Kind = events::TableChange::Kind;

const PostgresSource kOrders{"host=db", "public.orders", "id", "shop-orders"};

TEST(PostgresRecord, InsertTakesItsKeyFromTheNewRow) {
  auto r =
      record_from_row(kOrders, {7, "INSERT", "", R"({"id": 1, "item": "book"})", 1700000000, "e1"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->kind, Kind::kInsert);
  EXPECT_EQ(r->table, "shop-orders");
  EXPECT_EQ(r->keys, json::parse(R"({"id": {"N": "1"}})"));
  EXPECT_TRUE(r->old_item.is_null());
  EXPECT_EQ(r->new_item, json::parse(R"({"id": 1, "item": "book"})"));
  EXPECT_EQ(r->sequence, 7);
  EXPECT_EQ(r->at_seconds, 1700000000);
  EXPECT_EQ(r->event_id, "e1");
  json record = build_record(*r);
  EXPECT_EQ(record["eventSourceARN"], "arn:kumo:tables:local:table/shop-orders/stream");
  EXPECT_EQ(record["dynamodb"]["NewImage"]["item"], json({{"S", "book"}}));
}

TEST(PostgresRecord, ARowNestedDeeperThanTheLimitIsUnreadableNamingIt) {
  std::string deep = R"({"id": 1, "doc": )" + std::string(50'000, '[') +
                     std::string(50'000, ']') + "}";
  auto r = record_from_row(kOrders, {10, "INSERT", "", deep, 0, "e4"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "change 10: the row image cannot be read: JSON nesting deeper than 128 levels");
}

TEST(PostgresRecord, UpdateIsModifyAndDeleteTakesItsKeyFromTheOldRow) {
  auto update = record_from_row(
      kOrders, {8, "UPDATE", R"({"id": 1, "qty": 1})", R"({"id": 1, "qty": 2})", 0, "e2"});
  ASSERT_TRUE(update);
  EXPECT_EQ(update->kind, Kind::kModify);
  EXPECT_EQ(update->old_item["qty"], 1);
  EXPECT_EQ(update->new_item["qty"], 2);

  auto remove = record_from_row(kOrders, {9, "DELETE", R"({"id": "a-1"})", "", 0, "e3"});
  ASSERT_TRUE(remove);
  EXPECT_EQ(remove->kind, Kind::kRemove);
  EXPECT_EQ(remove->keys, json::parse(R"({"id": {"S": "a-1"}})"));
  EXPECT_TRUE(remove->new_item.is_null());
}

TEST(PostgresRecord, UnknownOpsAndUnreadableRowsAreErrors) {
  EXPECT_FALSE(record_from_row(kOrders, {1, "TRUNCATE", "", "", 0, "e"}));
  EXPECT_FALSE(record_from_row(kOrders, {1, "INSERT", "", "{broken", 0, "e"}));
}

}  // namespace
}  // namespace kumo::tables
