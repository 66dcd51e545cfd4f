#include "tables/names.h"

#include <gtest/gtest.h>

namespace kumo::tables {
namespace {

TEST(Names, TableNamesFollowTheDocumentedPattern) {
  for (const char* ok : {"a", "orders", "user.events-2024_x", "0abc"}) {
    EXPECT_TRUE(check_table_name(ok)) << ok;
  }
  EXPECT_TRUE(check_table_name(std::string(63, 'a')));
  for (const char* bad : {"", "Orders", "_x", "-x", ".x", "a b", "a/b", "ünï"}) {
    auto r = check_table_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(check_table_name(std::string(64, 'a')));
}

TEST(Names, ATableNameMayCarryItsTenant) {
  EXPECT_TRUE(check_table_name("acme~orders"));
  EXPECT_TRUE(check_table_name("acme~" + std::string(63, 'a')));
  for (const char* bad : {"~orders", "acme~", "Acme~orders", "a~b~orders", "acme~_x", "~"}) {
    EXPECT_FALSE(check_table_name(bad)) << bad;
  }
}

TEST(Names, KeysAreNonEmptyUtf8UpTo1024Bytes) {
  EXPECT_TRUE(check_key("user/1"));
  EXPECT_TRUE(check_key("ключ 🔑"));
  EXPECT_TRUE(check_key(std::string(1024, 'k')));
  EXPECT_FALSE(check_key(""));
  EXPECT_FALSE(check_key(std::string(1025, 'k')));
  EXPECT_FALSE(check_key("\xff\xfe"));
  EXPECT_FALSE(check_key("\xe2\x82"));  // a cut multi-byte sequence
}

TEST(Names, ItemsMustBeJsonObjects) {
  EXPECT_TRUE(parse_item("k", R"({"a": 1})"));
  auto not_json = parse_item("k", "{nope");
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().code, ErrorCode::kInvalidArgument);
  auto array = parse_item("k", "[1, 2]");
  ASSERT_FALSE(array);
  EXPECT_EQ(array.error().message, "the body must be a JSON object, got an array");
}

TEST(Names, ItemsNestedDeeperThanTheLimitAreRefusedNamingIt) {
  std::string deep = R"({"a":)" + std::string(50'000, '[') + std::string(50'000, ']') + "}";
  auto r = parse_item("k", deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message,
            "the body must be a JSON object: JSON nesting deeper than 128 levels");
  std::string at_limit = R"({"a":)" + std::string(127, '[') + std::string(127, ']') + "}";
  EXPECT_TRUE(parse_item("k", at_limit));
}

TEST(Names, ItemsOver400KiBAreTooLarge) {
  std::string fits = R"({"x":")" + std::string(kMaxItemBytes - 9, 'a') + "\"}";
  EXPECT_TRUE(parse_item("k", fits));  // exactly 400 KiB with its 1-byte key
  std::string big = R"({"x":")" + std::string(kMaxItemBytes, 'a') + "\"}";
  auto r = parse_item("k", big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
}

TEST(Names, PrefixEndIsTheNextStringAfterEveryPrefixedOne) {
  EXPECT_EQ(prefix_end("user/"), "user0");
  EXPECT_EQ(prefix_end("a\xff"), "b");
  EXPECT_EQ(prefix_end("\xff\xff"), "");
  EXPECT_EQ(prefix_end(""), "");
}

}  // namespace
}  // namespace kumo::tables
