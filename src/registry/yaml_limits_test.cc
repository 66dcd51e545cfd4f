#include "registry/yaml_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace kumo::registry {
namespace {

// A list of `n` scalars: n + 1 nodes.
std::string flat_list(int n) {
  std::string doc = "[x";
  for (int i = 1; i < n; ++i) doc += ", x";
  return doc + "]";
}

std::string nested_lists(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

TEST(YamlLimits, LoadsADocumentAtTheLimits) {
  YamlLimits limits{1024, 10, 3};
  auto flat = load_bounded_yaml(flat_list(9), limits);
  ASSERT_TRUE(flat.has_value()) << flat.error().message;
  EXPECT_EQ(flat->size(), 9u);
  auto deep = load_bounded_yaml(nested_lists(3), limits);
  ASSERT_TRUE(deep.has_value()) << deep.error().message;
}

TEST(YamlLimits, CountsOneNodeOverTheLimit) {
  auto r = load_bounded_yaml(flat_list(10), YamlLimits{1024, 10, 3});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("the limit is 10 nodes"), std::string::npos)
      << r.error().message;
}

TEST(YamlLimits, CountsAnAliasAsTheNodesItNames) {
  // 1 map + 2 keys + the anchored list (3 nodes) + the alias (3 more) = 9 nodes.
  std::string doc = "{a: &l [x, y], b: *l}";
  EXPECT_TRUE(load_bounded_yaml(doc, YamlLimits{1024, 9, 3}).has_value());
  auto r = load_bounded_yaml(doc, YamlLimits{1024, 8, 3});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("once its aliases are expanded"), std::string::npos);
}

TEST(YamlLimits, CountsTheDepthAnAliasBringsIn) {
  std::string doc = "{a: &l [[x]], b: [*l]}";  // b holds the two levels of l one level down
  EXPECT_TRUE(load_bounded_yaml(doc, YamlLimits{1024, 100, 4}).has_value());
  auto r = load_bounded_yaml(doc, YamlLimits{1024, 100, 3});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("the limit is 3 levels"), std::string::npos)
      << r.error().message;
}

TEST(YamlLimits, StopsAtTheDepthLimitBeforeYamlCppRecursesFurther) {
  // Far deeper than yaml-cpp's own recursion guard: the count stops it first.
  auto r = load_bounded_yaml(nested_lists(30'000), YamlLimits{size_t{1} << 20, 100'000, 64});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("the limit is 64 levels"), std::string::npos)
      << r.error().message;
}

TEST(YamlLimits, ReportsSyntaxErrorsWithTheirPosition) {
  auto r = load_bounded_yaml("a: [1, 2\nb: 3\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("invalid YAML at line"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace kumo::registry
