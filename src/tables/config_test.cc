#include "tables/config.h"

#include <gtest/gtest.h>

namespace kumo::tables {
namespace {

using nlohmann::json;

TEST(TablesConfig, AbsentSectionMeansNoConnectors) {
  auto c = parse_config(nullptr);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->postgres.empty());
}

TEST(TablesConfig, ReadsPostgresSourcesAndDefaultsTheName) {
  auto c = parse_config(json::parse(R"({"postgres": [
      {"dsn": "host=db dbname=app", "table": "public.orders", "key": "id"},
      {"dsn": "host=db dbname=app", "table": "users", "key": "uid", "name": "people"}]})"));
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->postgres.size(), 2u);
  EXPECT_EQ(c->postgres[0].name, "orders");
  EXPECT_EQ(c->postgres[0].table, "public.orders");
  EXPECT_EQ(c->postgres[1].name, "people");
  EXPECT_EQ(c->postgres[1].key, "uid");
}

TEST(TablesConfig, ErrorsNameTheField) {
  auto missing = parse_config(json::parse(R"({"postgres": [{"table": "t", "key": "id"}]})"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "tables.postgres[0].dsn: required");

  auto unknown = parse_config(json::parse(R"({"postgres": [{"dsn": "x", "table": "t",
                                                            "key": "id", "port": 1}]})"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown key 'port'"), std::string::npos);

  auto bad_name = parse_config(json::parse(R"({"postgres": [{"dsn": "x", "table": "Orders",
                                                             "key": "id"}]})"));
  ASSERT_FALSE(bad_name);
  EXPECT_NE(bad_name.error().message.find("tables.postgres[0].name"), std::string::npos);

  auto twice = parse_config(json::parse(R"({"postgres": [
      {"dsn": "x", "table": "a", "key": "id", "name": "t"},
      {"dsn": "x", "table": "b", "key": "id", "name": "t"}]})"));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "tables.postgres[1].name: 't' is used twice");

  EXPECT_FALSE(parse_config(json::parse(R"({"mysql": []})")));
}

}  // namespace
}  // namespace kumo::tables
