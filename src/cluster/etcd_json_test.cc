// etcd's gateway JSON, with lines as etcd 3.4 writes them.
#include "cluster/etcd_json.h"

#include <gtest/gtest.h>

namespace kumo::cluster::etcd_json {
namespace {

TEST(EtcdJson, RangeEndCoversExactlyThePrefix) {
  EXPECT_EQ(range_end_of("fn/"), "fn0");
  EXPECT_EQ(range_end_of(std::string("a\xff", 2)), "b");
  EXPECT_EQ(range_end_of(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(range_end_of(""), std::string(1, '\0'));
}

TEST(EtcdJson, ReadsARangeWithItsRevisions) {
  auto range = parse_range(
      R"({"header":{"revision":"7"},"kvs":[{"key":"Zm9v","create_revision":"2",
      "mod_revision":"5","version":"3","value":"YmFy","lease":"42"}],"count":"1"})");
  ASSERT_TRUE(range) << range.error().message;
  EXPECT_EQ(range->revision, 7);
  ASSERT_EQ(range->kvs.size(), 1u);
  const KeyValue& kv = range->kvs[0];
  EXPECT_EQ(kv.key, "foo");
  EXPECT_EQ(kv.value, "bar");
  EXPECT_EQ(kv.create_revision, 2);
  EXPECT_EQ(kv.mod_revision, 5);
  EXPECT_EQ(kv.version, 3);
  EXPECT_EQ(kv.lease, 42);
}

TEST(EtcdJson, AnEmptyRangeHasNoKvsAndAMissingValueIsEmpty) {
  auto range = parse_range(R"({"header":{"revision":"3"}})");
  ASSERT_TRUE(range);
  EXPECT_TRUE(range->kvs.empty());
  auto kv = parse_kv(nlohmann::json::parse(R"({"key":"Zm9v","mod_revision":"3"})"));
  ASSERT_TRUE(kv);
  EXPECT_EQ(kv->value, "");
}

TEST(EtcdJson, ReadsWatchLines) {
  auto created = parse_watch_line(R"({"result":{"header":{"revision":"2"},"created":true}})");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_TRUE(created->update.events.empty());

  auto events = parse_watch_line(
      R"({"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"Zm9v","mod_revision":"2",
      "value":"YmFy"}},{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"3"}}]}})");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->update.events.size(), 2u);
  EXPECT_EQ(events->update.events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events->update.events[0].kv.value, "bar");
  EXPECT_EQ(events->update.events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events->update.events[1].kv.mod_revision, 3);

  auto compacted = parse_watch_line(
      R"({"result":{"header":{},"canceled":true,"compact_revision":"3"}})");
  ASSERT_TRUE(compacted);
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 3);
}

TEST(EtcdJson, RefusesRepliesThatAreNotWhatEtcdWrites) {
  EXPECT_FALSE(parse_range("not json"));
  EXPECT_FALSE(parse_range(R"({"kvs": 5})"));
  EXPECT_FALSE(parse_range(R"({"kvs":[{"key":"%%%"}]})"));
  EXPECT_FALSE(parse_range(R"({"header":{"revision":"12x"}})"));
  EXPECT_FALSE(parse_watch_line(R"({"result":{"events":[{"type":"DELETE"}]}})"));
  EXPECT_FALSE(parse_watch_line(R"({"error":{"grpc_code":14}})"));
  EXPECT_FALSE(parse_watch_line(std::string(200, '[')));
}

TEST(EtcdJson, ErrorMessageIsEtcdsOwn) {
  EXPECT_EQ(error_message(R"({"error":"etcdserver: requested lease not found","code":5,
                              "message":"etcdserver: requested lease not found"})"),
            "etcdserver: requested lease not found");
  EXPECT_EQ(error_message("Not Found"), "Not Found");
}

}  // namespace
}  // namespace kumo::cluster::etcd_json
