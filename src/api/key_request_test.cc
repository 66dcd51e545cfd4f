#include "api/key_request.h"

#include <gtest/gtest.h>

namespace kumo::api {
namespace {

constexpr int64_t kNow = 1'800'000'000'000'000;
constexpr int64_t kSecond = 1'000'000;

const auth::Caller kOperator{"kk_op", "", {}};
const auth::Caller kAcme{"kk_acme", "acme", {}};

std::string error_of(std::string_view body, const auth::Caller& caller = kOperator) {
  auto spec = parse_key_request(body, caller, kNow);
  EXPECT_FALSE(spec) << body;
  return spec ? "" : spec.error().message;
}

TEST(KeyRequest, ScopesMayBeTextOrAList) {
  auto text =
      parse_key_request(R"({"name": "ci", "scopes": "deploy, read:bucket/b"})", kOperator, kNow);
  ASSERT_TRUE(text) << text.error().message;
  auto list = parse_key_request(R"({"name": "ci", "scopes": ["deploy", "read:bucket/b"]})",
                                kOperator, kNow);
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ(text->scopes, list->scopes);
  EXPECT_EQ(auth::to_string(list->scopes), "deploy,read:bucket/b");
  EXPECT_EQ(list->name, "ci");
  EXPECT_EQ(list->expires_us, std::nullopt);
}

TEST(KeyRequest, TheTenantIsTheCallersUnlessNamed) {
  EXPECT_EQ(parse_key_request(R"({"name": "a", "scopes": "read"})", kAcme, kNow)->tenant, "acme");
  EXPECT_EQ(parse_key_request(R"({"name": "a", "scopes": "read"})", kOperator, kNow)->tenant, "");
  EXPECT_EQ(
      parse_key_request(R"({"name": "a", "scopes": "read", "tenant": "zeta"})", kOperator, kNow)
          ->tenant,
      "zeta");
}

TEST(KeyRequest, ExpiryIsRelativeOrAbsoluteAndInTheNextTenYears) {
  auto in = parse_key_request(R"({"name": "a", "scopes": "read", "expires_in_s": 3600})", kOperator,
                              kNow);
  EXPECT_EQ(in->expires_us, kNow + 3600 * kSecond);
  std::string at = R"({"name": "a", "scopes": "read", "expires_at_us": )" +
                   std::to_string(kNow + 5 * kSecond) + "}";
  EXPECT_EQ(parse_key_request(at, kOperator, kNow)->expires_us, kNow + 5 * kSecond);
  EXPECT_NE(error_of(R"({"name": "a", "scopes": "read", "expires_in_s": 1,
                        "expires_at_us": 1})")
                .find("not both"),
            std::string::npos);
  for (const char* bad : {"0", "-5", "1.5", "\"1h\"", "400000000", "9223372036854775807"}) {
    std::string body =
        std::string(R"({"name": "a", "scopes": "read", "expires_in_s": )") + bad + "}";
    EXPECT_NE(error_of(body).find("expires_in_s"), std::string::npos) << bad;
  }
  EXPECT_NE(error_of(R"({"name": "a", "scopes": "read", "expires_at_us": 5})").find("future"),
            std::string::npos);
}

TEST(KeyRequest, BadBodiesAreRefusedNamingTheField) {
  EXPECT_NE(error_of(R"({"scopes": "read"})").find("name"), std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a"})").find("scopes"), std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "scopes": "fly"})").find("fly"), std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "scopes": [1]})").find("string"), std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "scopes": "read", "expires_at": 5})")
                .find("unknown field 'expires_at'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "scopes": "read", "tenant": 5})").find("tenant"),
            std::string::npos);
  EXPECT_NE(error_of("[1]").find("JSON object"), std::string::npos);
  EXPECT_NE(error_of("nope").find("JSON object"), std::string::npos);
  EXPECT_NE(error_of(std::string(1000, '[')).find("nesting"), std::string::npos);
}

TEST(KeyRequest, ATenantManagesItsOwnKeysAndTheOperatorEveryones) {
  EXPECT_TRUE(may_manage(kOperator, ""));
  EXPECT_TRUE(may_manage(kOperator, "acme"));
  EXPECT_TRUE(may_manage(kAcme, "acme"));
  auto op = may_manage(kAcme, "");
  ASSERT_FALSE(op);
  EXPECT_EQ(op.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(op.error().message.find("may not manage keys of the operator"), std::string::npos);
  EXPECT_NE(may_manage(kAcme, "zeta").error().message.find("tenant 'zeta'"), std::string::npos);
}

TEST(KeyRequest, AKeyShowsNoSecretAndNullForUnsetTimes) {
  auth::KeyRecord k{"kk_x", "acme",       "ci",           auth::parse_grants("read").value(),
                    kNow,   std::nullopt, kNow + kSecond, std::nullopt};
  nlohmann::json j = key_json(k);
  EXPECT_EQ(j["scopes"], nlohmann::json::array({"read"}));
  EXPECT_TRUE(j["last_used_us"].is_null());
  EXPECT_EQ(j["expires_us"], kNow + kSecond);
  EXPECT_EQ(j.size(), 8u);
}

}  // namespace
}  // namespace kumo::api
