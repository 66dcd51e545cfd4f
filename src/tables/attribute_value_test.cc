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

TEST(AttributeValue, ConvertsFiftyThousandLevelsWithoutRecursing) {
  // As an item an older release stored unchecked; one call per level overflowed the stack.
  json item = 1;
  for (int i = 0; i < 50'000; ++i) item = json::array({std::move(item)});
  item = json{{"a", std::move(item)}};
  json image = to_image(item);
  const json* v = &image["a"];
  int levels = 0;
  while (v->contains("L")) {
    v = &(*v)["L"][0];
    ++levels;
  }
  EXPECT_EQ(levels, 50'000);
  EXPECT_EQ(*v, json({{"N", "1"}}));
}

TEST(AttributeValue, KeepsTheOrderOfListElements) {
  EXPECT_EQ(to_attribute_value(json::parse(R"([1, "b", [true]])")),
            json::parse(R"({"L": [{"N": "1"}, {"S": "b"}, {"L": [{"BOOL": true}]}]})"));
}

}  // namespace
}  // namespace kumo::tables
