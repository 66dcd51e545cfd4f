#include "tables/attribute_value.h"

#include <gtest/gtest.h>

namespace kumo::tables {
namespace {

using nlohmann::json;

TEST(AttributeValue, ScalarsTakeDynamoDbTypeTags) {
  EXPECT_EQ(to_attribute_value("hi"), json({{"S", "hi"}}));
  EXPECT_EQ(to_attribute_value(true), json({{"BOOL", true}}));
  EXPECT_EQ(to_attribute_value(nullptr), json({{"NULL", true}}));
  EXPECT_EQ(to_attribute_value(42), json({{"N", "42"}}));
  EXPECT_EQ(to_attribute_value(-7), json({{"N", "-7"}}));
  EXPECT_EQ(to_attribute_value(1.5), json({{"N", "1.5"}}));
  EXPECT_EQ(to_attribute_value(18446744073709551615ULL), json({{"N", "18446744073709551615"}}));
}

TEST(AttributeValue, NumbersKeepTheirShortestSpelling) {
  EXPECT_EQ(to_attribute_value(json::parse("0.1")), json({{"N", "0.1"}}));
  EXPECT_EQ(to_attribute_value(json::parse("1e100")), json({{"N", "1e+100"}}));
}

TEST(AttributeValue, NestedObjectsAndListsBecomeMapsAndLists) {
  json item = json::parse(R"({"tags": ["a", 1, null], "owner": {"name": "ada", "admin": false}})");
  json expected = json::parse(R"({
    "tags": {"L": [{"S": "a"}, {"N": "1"}, {"NULL": true}]},
    "owner": {"M": {"name": {"S": "ada"}, "admin": {"BOOL": false}}}
  })");
  EXPECT_EQ(to_image(item), expected);
}

TEST(AttributeValue, EmptyContainersStayEmpty) {
  EXPECT_EQ(to_image(json::object()), json::object());
  EXPECT_EQ(to_attribute_value(json::array()), json({{"L", json::array()}}));
  EXPECT_EQ(to_attribute_value(json::object()), json({{"M", json::object()}}));
}

}  // namespace
}  // namespace kumo::tables
