#include "registry/spec.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace kumo::registry {
namespace {

const char* kMinimal = "name: detect\nruntime: python3\nhandler: main.handle\n";

Result<FunctionSpec> parse_with(const std::string& extra) {
  return parse_spec(std::string(kMinimal) + extra);
}

std::string error_of(const std::string& extra) {
  auto r = parse_with(extra);
  if (r) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  return r.error().message;
}

TEST(SpecAccess, DefaultsToNoPermissionsAKeyForHttpAndNoCors) {
  auto s = parse_spec(kMinimal);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_TRUE(s->access.permissions.empty());
  EXPECT_EQ(s->access.http_auth, HttpAuth::kKey);
  EXPECT_FALSE(s->access.cors.has_value());
}

TEST(SpecAccess, ReadsPermissionsAsAListOrAString) {
  auto list = parse_with("permissions: [read:bucket/in, write:bucket/out]\n");
  ASSERT_TRUE(list.has_value()) << list.error().message;
  ASSERT_EQ(list->access.permissions.size(), 2u);
  EXPECT_EQ(auth::to_string(list->access.permissions), "read:bucket/in,write:bucket/out");
  auto text = parse_with("permissions: \"read:bucket/in, write:bucket/out\"\n");
  ASSERT_TRUE(text.has_value()) << text.error().message;
  EXPECT_EQ(text->access.permissions, list->access.permissions);
  auto none = parse_with("permissions: []\n");
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_TRUE(none->access.permissions.empty());
}

TEST(SpecAccess, RefusesAdminAndBadGrantsInPermissions) {
  EXPECT_NE(error_of("permissions: [admin]\n").find("permissions: admin is not for functions"),
            std::string::npos);
  EXPECT_NE(error_of("permissions: [read, admin]\n").find("admin"), std::string::npos);
  EXPECT_EQ(error_of("permissions: [fly:bucket/x]\n").rfind("permissions: ", 0), 0u);
  EXPECT_EQ(error_of("permissions: {read: x}\n").rfind("permissions: ", 0), 0u);
  EXPECT_EQ(error_of("permissions: [[read]]\n").rfind("permissions: ", 0), 0u);
}

TEST(SpecAccess, ReadsAuthKeyOrNone) {
  EXPECT_EQ(parse_with("auth: none\n")->access.http_auth, HttpAuth::kNone);
  EXPECT_EQ(parse_with("auth: key\n")->access.http_auth, HttpAuth::kKey);
  EXPECT_NE(error_of("auth: public\n").find("auth: 'public' is not key"), std::string::npos);
  EXPECT_NE(error_of("auth: [none]\n").find("auth: "), std::string::npos);
}

TEST(SpecAccess, ReadsAndNormalizesCors) {
  auto s = parse_with(R"(cors:
  allow_origins: ["https://app.example.com", "http://localhost:5173"]
  allow_methods: [get, POST]
  allow_headers: [Content-Type, X-Api-Key]
  expose_headers: [X-Kumo-Request-Id]
  max_age: 600
  allow_credentials: true
)");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_TRUE(s->access.cors.has_value());
  const Cors& c = *s->access.cors;
  EXPECT_EQ(c.allow_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:5173"}));
  EXPECT_EQ(c.allow_methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(c.allow_headers, (std::vector<std::string>{"content-type", "x-api-key"}));
  EXPECT_EQ(c.expose_headers, (std::vector<std::string>{"x-kumo-request-id"}));
  EXPECT_EQ(c.max_age_s, 600);
  EXPECT_TRUE(c.allow_credentials);
}

TEST(SpecAccess, RefusesBadCorsNamingTheField) {
  EXPECT_NE(error_of("cors: {allow_origins: [\"app.example.com\"]}\n")
                .find("cors.allow_origins: 'app.example.com' is not"),
            std::string::npos);
  EXPECT_NE(error_of("cors: {allow_origins: [\"https://a.example/path\"]}\n")
                .find("cors.allow_origins"),
            std::string::npos);
  EXPECT_NE(error_of("cors: {allow_methods: [FETCH]}\n").find("cors.allow_methods: 'FETCH'"),
            std::string::npos);
  EXPECT_NE(error_of("cors: {allow_headers: [\"bad header\"]}\n").find("cors.allow_headers"),
            std::string::npos);
  EXPECT_NE(error_of("cors: {max_age: 100000}\n").find("cors.max_age: must be 0..86400"),
            std::string::npos);
  EXPECT_NE(error_of("cors: {max_age: soon}\n").find("cors.max_age: must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of("cors: {allow_origins: [\"*\"], allow_credentials: true}\n")
                .find("cors.allow_credentials"),
            std::string::npos);
  EXPECT_NE(error_of("cors: {origins: [\"*\"]}\n").find("cors.origins: unknown field"),
            std::string::npos);
  EXPECT_NE(error_of("cors: [\"*\"]\n").find("cors: must be a map"), std::string::npos);
}

TEST(SpecAccess, BoundsCorsCountsAndLengths) {
  std::string many = "cors: {allow_origins: [";
  for (int i = 0; i <= 100; ++i) many += fmt::format("\"https://o{}.example\",", i);
  many += "]}\n";
  EXPECT_NE(error_of(many).find("cors.allow_origins: at most 100 entries, got 101"),
            std::string::npos);
  std::string long_origin = "cors: {allow_origins: [\"https://" + std::string(250, 'a') + "\"]}\n";
  EXPECT_NE(error_of(long_origin).find("at most 253 characters"), std::string::npos);
  std::string long_header = "cors: {allow_headers: [" + std::string(300, 'h') + "]}\n";
  EXPECT_NE(error_of(long_header).find("at most 256 characters"), std::string::npos);
}

TEST(SpecAccess, RoundTripsThroughJson) {
  auto s = parse_with(
      "permissions: [read:bucket/in, publish:topic/jobs-*]\nauth: none\n"
      "cors: {allow_origins: [\"*\"], allow_methods: [GET], max_age: 60}\n");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  nlohmann::json j = spec_to_json(*s);
  EXPECT_EQ(j["permissions"], (nlohmann::json{"read:bucket/in", "publish:topic/jobs-*"}));
  EXPECT_EQ(j["auth"], "none");
  EXPECT_EQ(j["cors"]["max_age"], 60);
  auto back = spec_from_json(j);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->access.permissions, s->access.permissions);
  EXPECT_EQ(back->access.http_auth, HttpAuth::kNone);
  EXPECT_EQ(back->access.cors, s->access.cors);
  EXPECT_EQ(spec_to_json(*back), j);
}

TEST(SpecAccess, JsonWithoutTheFieldsIsAnOlderSpecWithTheDefaults) {
  nlohmann::json j = spec_to_json(*parse_spec(kMinimal));
  j.erase("permissions");
  j.erase("auth");
  j.erase("cors");
  auto s = spec_from_json(j);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_TRUE(s->access.permissions.empty());
  EXPECT_EQ(s->access.http_auth, HttpAuth::kKey);
}

TEST(SpecAccess, JsonIsValidatedLikeYaml) {
  nlohmann::json j = spec_to_json(*parse_spec(kMinimal));
  j["permissions"] = {"admin"};
  EXPECT_FALSE(spec_from_json(j).has_value());
  j["permissions"] = nlohmann::json::array();
  j["auth"] = "open";
  EXPECT_FALSE(spec_from_json(j).has_value());
  j["auth"] = "key";
  j["cors"] = {{"max_age", -1}};
  EXPECT_FALSE(spec_from_json(j).has_value());
}

}  // namespace
}  // namespace kumo::registry
