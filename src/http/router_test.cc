#include "http/router.h"

#include <gtest/gtest.h>

namespace kumo::http {
namespace {

// Each route's handler answers with its own tag, so a test can see which one matched.
Handler tagged(std::string tag) {
  return [tag](Request&&, std::shared_ptr<Responder> r) { r->send({200, {}, tag}); };
}

struct Capture final : Responder {
  std::string body;
  void send(Response response) override { body = response.body; }
  void start_stream(int, Headers) override {}
  void write_chunk(std::string) override {}
  void finish() override {}
  bool closed() const override { return false; }
};

std::string which(const Router& router, std::string_view method, std::string_view path) {
  auto match = router.match(method, path);
  if (match.route == nullptr) return std::to_string(match.status);
  auto capture = std::make_shared<Capture>();
  match.route->handler(Request{}, capture);
  return capture->body;
}

TEST(Router, CapturesOneSegmentParams) {
  Router router;
  router.add("POST", "/api/v1/functions/{name}/invoke", tagged("invoke"));
  auto match = router.match("POST", "/api/v1/functions/resize/invoke");
  ASSERT_EQ(match.status, 200);
  EXPECT_EQ(match.params.at("name"), "resize");
  EXPECT_EQ(router.match("POST", "/api/v1/functions/a/b/invoke").status, 404);
  EXPECT_EQ(router.match("POST", "/api/v1/functions//invoke").status, 404);
}

TEST(Router, RestParamTakesTheTailWithSlashesOrNothing) {
  Router router;
  router.add("*", "/fn/{name}/{path...}", tagged("fn"));
  auto deep = router.match("GET", "/fn/web/a/b/c.txt");
  ASSERT_EQ(deep.status, 200);
  EXPECT_EQ(deep.params.at("name"), "web");
  EXPECT_EQ(deep.params.at("path"), "a/b/c.txt");
  auto bare = router.match("GET", "/fn/web");
  ASSERT_EQ(bare.status, 200);
  EXPECT_EQ(bare.params.at("path"), "");
  EXPECT_EQ(router.match("GET", "/fn/web/").params.at("path"), "");
  EXPECT_EQ(router.match("GET", "/fn").status, 404);
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/api/v1/functions/{name}", tagged("get"));
  router.add("DELETE", "/api/v1/functions/{name}", tagged("delete"));
  EXPECT_EQ(router.match("GET", "/nope").status, 404);
  auto wrong = router.match("PUT", "/api/v1/functions/x");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET, DELETE");
}

TEST(Router, MoreSpecificPatternWinsWhateverTheOrder) {
  Router router;
  router.add("GET", "/api/v1/functions/{name}", tagged("param"));
  router.add("GET", "/{all...}", tagged("rest"));
  router.add("GET", "/api/v1/functions/special", tagged("literal"));
  EXPECT_EQ(which(router, "GET", "/api/v1/functions/special"), "literal");
  EXPECT_EQ(which(router, "GET", "/api/v1/functions/other"), "param");
  EXPECT_EQ(which(router, "GET", "/console/index.html"), "rest");
}

TEST(Router, FirstAddedWinsBetweenEquals) {
  Router router;
  router.add("*", "/x/{a}", tagged("first"));
  router.add("*", "/x/{b}", tagged("second"));
  EXPECT_EQ(which(router, "GET", "/x/1"), "first");
}

TEST(Router, MethodSpecificRouteIsFoundBehindAnotherMethod) {
  Router router;
  router.add("GET", "/items/special", tagged("get-special"));
  router.add("POST", "/items/{id}", tagged("post-any"));
  EXPECT_EQ(which(router, "POST", "/items/special"), "post-any");
}

TEST(Router, ParamsArePercentDecoded) {
  Router router;
  router.add("*", "/s3/{bucket}/{key...}", tagged("s3"));
  auto match = router.match("PUT", "/s3/up%20loads/images/a%2Bb.png");
  ASSERT_EQ(match.status, 200);
  EXPECT_EQ(match.params.at("bucket"), "up loads");
  EXPECT_EQ(match.params.at("key"), "images/a+b.png");
}

TEST(Router, HeadFallsBackToGet) {
  Router router;
  router.add("GET", "/healthz", tagged("health"));
  EXPECT_EQ(router.match("HEAD", "/healthz").status, 200);
  EXPECT_EQ(router.match("POST", "/healthz").status, 405);
}

TEST(Router, RootPatternMatchesOnlyRoot) {
  Router router;
  router.add("GET", "/", tagged("root"));
  EXPECT_EQ(router.match("GET", "/").status, 200);
  EXPECT_EQ(router.match("GET", "/a").status, 404);
}

// A restricted copy keeps the same matching (the most specific route still wins) but answers
// the refused routes with the refusal; the original is untouched.
TEST(Router, ARestrictedCopyRefusesWhatItsFilterRefuses) {
  Router router;
  router.add("POST", "/api/v1/functions", tagged("deploy"));
  router.add("POST", "/api/v1/functions/{name}/invoke", tagged("invoke"));
  router.add("*", "/s3/{bucket}/{key...}", tagged("s3"));
  Router boxed = router.restricted(
      [](std::string_view method, std::string_view pattern) {
        return pattern.starts_with("/s3") || (method == "POST" && pattern.ends_with("/invoke"));
      },
      tagged("refused"));
  EXPECT_EQ(which(boxed, "POST", "/api/v1/functions"), "refused");
  EXPECT_EQ(which(boxed, "POST", "/api/v1/functions/f/invoke"), "invoke");
  EXPECT_EQ(which(boxed, "GET", "/s3/b/k"), "s3");
  EXPECT_EQ(which(boxed, "GET", "/nowhere"), "404");
  EXPECT_EQ(boxed.match("POST", "/api/v1/functions").route->max_body,
            Router::kRefusedMaxBody);
  EXPECT_EQ(which(router, "POST", "/api/v1/functions"), "deploy");
}

}  // namespace
}  // namespace kumo::http
