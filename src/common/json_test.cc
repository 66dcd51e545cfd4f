#include "common/json.h"

#include <gtest/gtest.h>

#include <string>

namespace kumo {
namespace {

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

nlohmann::json nested_value(size_t depth) {
  nlohmann::json v = 1;
  for (size_t i = 0; i < depth; ++i) v = nlohmann::json::array({std::move(v)});
  return v;
}

TEST(ParseJson, AcceptsNestingExactlyAtTheLimit) {
  auto j = parse_json(nested_arrays(kMaxJsonDepth));
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_TRUE(j->is_array());
}

TEST(ParseJson, RefusesOneLevelOverTheLimitNamingIt) {
  auto j = parse_json(nested_arrays(kMaxJsonDepth + 1));
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(j.error().message, "JSON nesting deeper than 128 levels");
}

TEST(ParseJson, CountsObjectsAndArraysAlike) {
  EXPECT_TRUE(parse_json(R"({"a": [{"b": [1]}]})", 4));
  EXPECT_FALSE(parse_json(R"({"a": [{"b": [1]}]})", 3));
  EXPECT_TRUE(parse_json(R"([[1], [2], {"c": {}}])", 3));  // siblings do not add up
}

TEST(ParseJson, DoesNotCountBracketsInsideStrings) {
  std::string brackets(10'000, '[');
  auto j = parse_json(R"({"s": ")" + brackets + R"(", "t": "a\"[[[{{{\\"})", 1);
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ((*j)["s"].get<std::string>().size(), 10'000u);
  EXPECT_EQ((*j)["t"], "a\"[[[{{{\\");
}

TEST(ParseJson, HonoursAnEscapedBackslashBeforeAClosingQuote) {
  // "\\" ends the string, so the brackets after it are structure and count.
  EXPECT_FALSE(parse_json(R"(["\\", [[1]]])", 2));
  EXPECT_TRUE(parse_json(R"(["\\", [[1]]])", 3));
}

TEST(ParseJson, RefusesFiftyThousandLevelsWithoutRecursing) {
  std::string deep = R"({"a":)" + nested_arrays(50'000) + "}";
  auto j = parse_json(deep);
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message, "JSON nesting deeper than 128 levels");
  // A depth check that recursed would overflow the stack here long before it returned.
  EXPECT_FALSE(check_json_depth(std::string(1'000'000, '{')));
}

TEST(ParseJson, SaysWhyTextIsNotJson) {
  auto j = parse_json("{\"a\": tru}");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(j.error().message.starts_with("not JSON (")) << j.error().message;
  EXPECT_FALSE(parse_json(""));
}

TEST(CheckJsonDepth, MeasuresValuesBuiltInMemory) {
  EXPECT_TRUE(check_json_value_depth(nested_value(kMaxJsonDepth)));
  auto deep = check_json_value_depth(nested_value(kMaxJsonDepth + 1));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().message, "JSON nesting deeper than 128 levels");
  EXPECT_TRUE(check_json_value_depth(nlohmann::json("[[[[")));  // a string is no nesting
  EXPECT_TRUE(check_json_value_depth(nlohmann::json::object(), 1));
  EXPECT_FALSE(check_json_value_depth(nlohmann::json{{"a", {{"b", 1}}}}, 1));
}

TEST(CheckJsonDepth, WalksFiftyThousandLevelsWithoutRecursing) {
  EXPECT_FALSE(check_json_value_depth(nested_value(50'000)));
}

TEST(IsJsonContentType, AcceptsJsonTypesWithParameters) {
  EXPECT_TRUE(is_json_content_type("application/json"));
  EXPECT_TRUE(is_json_content_type("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(is_json_content_type("application/cloudevents+json"));
  EXPECT_FALSE(is_json_content_type("text/plain"));
  EXPECT_FALSE(is_json_content_type(""));
}

}  // namespace
}  // namespace kumo
