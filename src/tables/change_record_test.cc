#include "tables/change_record.h"

#include <gtest/gtest.h>

namespace kumo::tables {
namespace {

using nlohmann::json;
using Kind = events::TableChange::Kind;

ChangeRecord modify() {
  ChangeRecord c;
  c.kind = Kind::kModify;
  c.table = "users";
  c.keys = {{"key", {{"S", "u1"}}}};
  c.old_item = {{"name", "ada"}};
  c.new_item = {{"name", "ada"}, {"age", 36}};
  c.sequence = 12;
  c.at_seconds = 1700000000;
  c.event_id = "abc";
  return c;
}

TEST(ChangeRecord, ModifyCarriesBothImagesInDynamoDbShape) {
  json r = build_record(modify());
  EXPECT_EQ(r["eventID"], "abc");
  EXPECT_EQ(r["eventName"], "MODIFY");
  EXPECT_EQ(r["eventVersion"], "1.1");
  EXPECT_EQ(r["eventSource"], "aws:dynamodb");
  EXPECT_EQ(r["awsRegion"], "us-east-1");
  EXPECT_EQ(r["eventSourceARN"], "arn:kumo:tables:local:table/users/stream");
  const json& d = r["dynamodb"];
  EXPECT_EQ(d["ApproximateCreationDateTime"], 1700000000);
  EXPECT_EQ(d["Keys"], json::parse(R"({"key": {"S": "u1"}})"));
  EXPECT_EQ(d["OldImage"], json::parse(R"({"name": {"S": "ada"}})"));
  EXPECT_EQ(d["NewImage"], json::parse(R"({"name": {"S": "ada"}, "age": {"N": "36"}})"));
  EXPECT_EQ(d["SequenceNumber"], "000000000000000000012");
  EXPECT_EQ(d["StreamViewType"], "NEW_AND_OLD_IMAGES");
  size_t size = d["Keys"].dump().size() + d["NewImage"].dump().size() + d["OldImage"].dump().size();
  EXPECT_EQ(d["SizeBytes"], size);
}

TEST(ChangeRecord, InsertHasNoOldImageAndRemoveNoNewImage) {
  ChangeRecord insert = modify();
  insert.kind = Kind::kInsert;
  insert.old_item = nullptr;
  json r = build_record(insert);
  EXPECT_EQ(r["eventName"], "INSERT");
  EXPECT_FALSE(r["dynamodb"].contains("OldImage"));
  EXPECT_TRUE(r["dynamodb"].contains("NewImage"));

  ChangeRecord remove = modify();
  remove.kind = Kind::kRemove;
  remove.new_item = nullptr;
  r = build_record(remove);
  EXPECT_EQ(r["eventName"], "REMOVE");
  EXPECT_FALSE(r["dynamodb"].contains("NewImage"));
  EXPECT_TRUE(r["dynamodb"].contains("OldImage"));
}

TEST(ChangeRecord, SequenceNumbersSortAsStringsLikeNumbers) {
  EXPECT_LT(sequence_number(9), sequence_number(10));
  EXPECT_LT(sequence_number(999999), sequence_number(1000000));
  EXPECT_EQ(sequence_number(9223372036854775807), "009223372036854775807");
}

TEST(ChangeRecord, TableChangeCarriesKindTableAndRecord) {
  events::TableChange change = to_table_change(modify());
  EXPECT_EQ(change.kind, Kind::kModify);
  EXPECT_EQ(change.table, "users");
  EXPECT_EQ(change.record, build_record(modify()));
  EXPECT_STREQ(events::kind_name(change.kind), "update");
}

TEST(ChangeRecord, ATenantsTableIsShownToItsFunctionByItsPlainName) {
  ChangeRecord c = modify();
  c.table = "acme~users";
  events::TableChange change = to_table_change(c);
  EXPECT_EQ(change.table, "acme~users");  // what triggers match on
  EXPECT_EQ(change.record["eventSourceARN"], "arn:kumo:tables:local:table/users/stream");
  auto letter = nlohmann::json::parse(undeliverable_change(c, "why").body);
  EXPECT_EQ(letter["source"], "table:users");
}

}  // namespace
}  // namespace kumo::tables
