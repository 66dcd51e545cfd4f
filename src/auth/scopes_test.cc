#include "auth/scopes.h"

#include <gtest/gtest.h>

#include <string>

namespace kumo::auth {
namespace {

std::vector<Grant> grants(std::string_view text) {
  auto g = parse_grants(text);
  EXPECT_TRUE(g) << text << ": " << (g ? "" : g.error().message);
  return g ? *g : std::vector<Grant>{};
}

std::string error_of(std::string_view text) {
  auto g = parse_grants(text);
  EXPECT_FALSE(g) << text << " was accepted";
  if (g) return "";
  EXPECT_EQ(g.error().code, ErrorCode::kInvalidArgument);
  return g.error().message;
}

TEST(Scopes, EveryFormOfTheGrammarPrintsBackAsTyped) {
  for (std::string text :
       {"admin", "deploy", "invoke", "read", "write", "publish", "invoke:function/resize",
        "deploy:function/resize", "read:bucket/photos", "write:bucket/photos",
        "publish:topic/orders", "read:table/messages", "write:table/messages",
        "write:bucket/uploads-*", "read:topic/*", "read:function/a.b_c-D9"}) {
    auto g = parse_grant(text);
    ASSERT_TRUE(g) << text << ": " << g.error().message;
    EXPECT_EQ(to_string(*g), text);
    EXPECT_EQ(parse_grant(to_string(*g)).value(), *g);
  }
}

TEST(Scopes, AListSeparatedByCommasOrSpacesRoundTripsWithoutDuplicates) {
  auto g = grants(" read, write:bucket/photos  invoke:function/resize,read ,");
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(to_string(g), "read,write:bucket/photos,invoke:function/resize");
  EXPECT_EQ(grants(to_string(g)), g);
}

TEST(Scopes, BadGrantsAreRefusedWithAMessageNamingThem) {
  EXPECT_NE(error_of("read, writ:bucket/x").find("scope 'writ:bucket/x': unknown verb 'writ'"),
            std::string::npos);
  EXPECT_NE(error_of("read:bukket/x").find("scope 'read:bukket/x': unknown resource kind"),
            std::string::npos);
  EXPECT_NE(error_of("write:function/resize").find("write applies to bucket/ and table/"),
            std::string::npos);
  EXPECT_NE(error_of("publish:bucket/b").find("publish applies to topic/"), std::string::npos);
  EXPECT_NE(error_of("invoke:table/t").find("invoke applies to function/"), std::string::npos);
  EXPECT_NE(error_of("admin:function/x").find("takes no resource"), std::string::npos);
  EXPECT_NE(error_of("read:bucket").find("expected KIND/NAME"), std::string::npos);
  EXPECT_NE(error_of("read:bucket/").find("name is empty"), std::string::npos);
  EXPECT_NE(error_of("read:bucket/a*b").find("'*' at the end only"), std::string::npos);
  EXPECT_NE(error_of("read:bucket/a/b").find("letters, digits"), std::string::npos);
  EXPECT_NE(error_of("read:bucket/**").find("'*' at the end only"), std::string::npos);
  EXPECT_NE(error_of("READ").find("unknown verb"), std::string::npos);
  EXPECT_NE(error_of("").find("none given"), std::string::npos);
  EXPECT_NE(error_of(" , ").find("none given"), std::string::npos);
}

TEST(Scopes, LengthAndCountAreBounded) {
  std::string long_name(129, 'a');
  EXPECT_NE(error_of("read:bucket/" + long_name).find("longer than 128"), std::string::npos);
  EXPECT_TRUE(parse_grant("read:bucket/" + std::string(128, 'a')));
  EXPECT_NE(error_of(std::string(200, 'x')).find("longer than 160 characters"), std::string::npos);
  std::string many;
  for (int i = 0; i <= 64; ++i) many += "read:bucket/b" + std::to_string(i) + ",";
  EXPECT_NE(error_of(many).find("more than 64 grants"), std::string::npos);
  EXPECT_NE(error_of(std::string(5000, ',')).find("longer than 4096"), std::string::npos);
}

TEST(Scopes, AnUnprintableGrantIsQuotedSafely) {
  std::string bad = "re\x01\xffx";
  auto message = error_of(bad);
  EXPECT_NE(message.find("scope 're??x'"), std::string::npos) << message;
}

TEST(Scopes, AdminAllowsEverything) {
  auto g = grants("admin");
  for (auto a : {Action::kAdmin, Action::kDeploy, Action::kInvoke, Action::kRead, Action::kWrite,
                 Action::kPublish}) {
    EXPECT_TRUE(allows(g, a, Resource::function("f")));
    EXPECT_TRUE(allows(g, a, Resource::bucket("")));
    EXPECT_TRUE(allows(g, a, Resource::server()));
  }
}

TEST(Scopes, OnlyAdminAllowsAdminActions) {
  EXPECT_FALSE(
      allows(grants("deploy,invoke,read,write,publish"), Action::kAdmin, Resource::server()));
}

TEST(Scopes, DeployManagesInvokesAndReadsFunctionsOnly) {
  auto g = grants("deploy");
  EXPECT_TRUE(allows(g, Action::kDeploy, Resource::function("resize")));
  EXPECT_TRUE(allows(g, Action::kInvoke, Resource::function("resize")));
  EXPECT_TRUE(allows(g, Action::kRead, Resource::function("")));
  EXPECT_FALSE(allows(g, Action::kRead, Resource::bucket("photos")));
  EXPECT_FALSE(allows(g, Action::kWrite, Resource::bucket("photos")));
  EXPECT_FALSE(allows(g, Action::kPublish, Resource::topic("orders")));
}

TEST(Scopes, InvokeOnlyInvokes) {
  auto g = grants("invoke");
  EXPECT_TRUE(allows(g, Action::kInvoke, Resource::function("any")));
  EXPECT_FALSE(allows(g, Action::kDeploy, Resource::function("any")));
  EXPECT_FALSE(allows(g, Action::kRead, Resource::function("any")));
  auto one = grants("invoke:function/resize");
  EXPECT_TRUE(allows(one, Action::kInvoke, Resource::function("resize")));
  EXPECT_FALSE(allows(one, Action::kInvoke, Resource::function("resize2")));
  EXPECT_FALSE(allows(one, Action::kInvoke, Resource::function("")));
}

TEST(Scopes, ReadReadsEverythingAndChangesNothing) {
  auto g = grants("read");
  for (const auto& r : {Resource::function("f"), Resource::function(""), Resource::bucket("b"),
                        Resource::table("t"), Resource::topic("o"), Resource::server()}) {
    EXPECT_TRUE(allows(g, Action::kRead, r));
    EXPECT_FALSE(allows(g, Action::kWrite, r));
    EXPECT_FALSE(allows(g, Action::kDeploy, r));
    EXPECT_FALSE(allows(g, Action::kInvoke, r));
    EXPECT_FALSE(allows(g, Action::kPublish, r));
  }
}

TEST(Scopes, WriteImpliesReadOfTheSameResourceOnly) {
  auto g = grants("write:bucket/photos");
  EXPECT_TRUE(allows(g, Action::kWrite, Resource::bucket("photos")));
  EXPECT_TRUE(allows(g, Action::kRead, Resource::bucket("photos")));
  EXPECT_FALSE(allows(g, Action::kRead, Resource::bucket("photos2")));
  EXPECT_FALSE(allows(g, Action::kWrite, Resource::table("photos")));
  EXPECT_FALSE(allows(g, Action::kRead, Resource::bucket("")));
  auto all = grants("write");
  EXPECT_TRUE(allows(all, Action::kWrite, Resource::table("messages")));
  EXPECT_TRUE(allows(all, Action::kRead, Resource::bucket("")));
  EXPECT_FALSE(allows(all, Action::kWrite, Resource::function("f")));
  EXPECT_FALSE(allows(all, Action::kRead, Resource::topic("orders")));
}

TEST(Scopes, ReadOfOneTableDoesNotWriteIt) {
  auto g = grants("read:table/messages");
  EXPECT_TRUE(allows(g, Action::kRead, Resource::table("messages")));
  EXPECT_FALSE(allows(g, Action::kWrite, Resource::table("messages")));
  EXPECT_FALSE(allows(g, Action::kRead, Resource::bucket("messages")));
}

TEST(Scopes, PublishPublishesToItsTopic) {
  auto g = grants("publish:topic/orders");
  EXPECT_TRUE(allows(g, Action::kPublish, Resource::topic("orders")));
  EXPECT_FALSE(allows(g, Action::kPublish, Resource::topic("orders-eu")));
  EXPECT_FALSE(allows(g, Action::kRead, Resource::topic("orders")));
}

TEST(Scopes, AWildcardMatchesNamesByPrefixAndAloneCoversTheListing) {
  auto g = grants("write:bucket/uploads-*");
  EXPECT_TRUE(allows(g, Action::kWrite, Resource::bucket("uploads-")));
  EXPECT_TRUE(allows(g, Action::kWrite, Resource::bucket("uploads-2026")));
  EXPECT_FALSE(allows(g, Action::kWrite, Resource::bucket("upload")));
  EXPECT_FALSE(allows(g, Action::kWrite, Resource::bucket("photos")));
  EXPECT_FALSE(allows(g, Action::kRead, Resource::bucket("")));
  auto star = grants("read:bucket/*");
  EXPECT_TRUE(allows(star, Action::kRead, Resource::bucket("")));
  EXPECT_TRUE(allows(star, Action::kRead, Resource::bucket("anything")));
  EXPECT_FALSE(allows(star, Action::kRead, Resource::table("anything")));
}

TEST(Scopes, NoGrantsAllowNothing) {
  EXPECT_FALSE(allows({}, Action::kRead, Resource::function("f")));
}

TEST(Scopes, AnyOneGrantSuffices) {
  auto g = grants("invoke:function/a,read:bucket/b");
  EXPECT_TRUE(allows(g, Action::kInvoke, Resource::function("a")));
  EXPECT_TRUE(allows(g, Action::kRead, Resource::bucket("b")));
  EXPECT_FALSE(allows(g, Action::kInvoke, Resource::function("b")));
}

}  // namespace
}  // namespace kumo::auth
