#include "api/cors.h"

#include <gtest/gtest.h>

namespace kumo::api {
namespace {

registry::Cors app_cors() {
  registry::Cors c;
  c.allow_origins = {"https://app.example.com"};
  c.allow_methods = {"GET", "POST"};
  c.allow_headers = {"content-type", "x-api-key"};
  c.expose_headers = {"x-kumo-request-id"};
  c.max_age_s = 600;
  return c;
}

http::Request preflight(std::string origin, std::string method, std::string headers = "") {
  http::Request r;
  r.method = "OPTIONS";
  r.headers = {{"Origin", std::move(origin)}, {"Access-Control-Request-Method", std::move(method)}};
  if (!headers.empty()) r.headers.emplace_back("Access-Control-Request-Headers", headers);
  return r;
}

std::string header(const http::Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (http::iequals(k, name)) return v;
  }
  return "";
}

TEST(Cors, TellsAPreflightFromAnOrdinaryOptionsRequest) {
  EXPECT_TRUE(is_preflight(preflight("https://a.example", "POST")));
  http::Request plain;
  plain.method = "OPTIONS";
  EXPECT_FALSE(is_preflight(plain));
  http::Request get = preflight("https://a.example", "POST");
  get.method = "GET";
  EXPECT_FALSE(is_preflight(get));
}

TEST(Cors, AnswersAnAllowedPreflight) {
  http::Response r =
      preflight_reply(app_cors(), preflight("https://app.example.com", "post", "Content-Type"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r.headers, "access-control-allow-origin"), "https://app.example.com");
  EXPECT_EQ(header(r.headers, "access-control-allow-methods"), "GET, POST");
  EXPECT_EQ(header(r.headers, "access-control-allow-headers"), "content-type, x-api-key");
  EXPECT_EQ(header(r.headers, "access-control-max-age"), "600");
  EXPECT_EQ(header(r.headers, "vary"), "Origin");
  EXPECT_EQ(header(r.headers, "access-control-allow-credentials"), "");
}

TEST(Cors, RefusesAPreflightFromAnotherOriginMethodOrHeader) {
  http::Response origin = preflight_reply(app_cors(), preflight("https://evil.example", "GET"));
  EXPECT_EQ(origin.status, 403);
  EXPECT_NE(origin.body.find("origin 'https://evil.example' is not allowed"), std::string::npos);
  EXPECT_EQ(header(origin.headers, "access-control-allow-origin"), "");
  EXPECT_EQ(preflight_reply(app_cors(), preflight("https://app.example.com", "DELETE")).status,
            403);
  EXPECT_EQ(preflight_reply(app_cors(),
                            preflight("https://app.example.com", "GET", "content-type, x-other"))
                .status,
            403);
  // Exact origins: another scheme or port is another origin.
  EXPECT_EQ(preflight_reply(app_cors(), preflight("http://app.example.com", "GET")).status, 403);
  EXPECT_EQ(preflight_reply(app_cors(), preflight("https://app.example.com:8443", "GET")).status,
            403);
}

TEST(Cors, AWildcardOriginAnswersStarUnlessCredentialsAreAllowed) {
  registry::Cors any;
  any.allow_origins = {"*"};
  any.allow_methods = {"*"};
  any.allow_headers = {"*"};
  http::Response r = preflight_reply(any, preflight("https://x.example", "PATCH", "x-a, x-b"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r.headers, "access-control-allow-origin"), "*");
  EXPECT_EQ(header(r.headers, "access-control-allow-headers"), "*");
  EXPECT_EQ(header(reply_headers(any, "https://x.example"), "access-control-allow-origin"), "*");
}

TEST(Cors, CredentialsNameTheOriginAndSayTrue) {
  registry::Cors c = app_cors();
  c.allow_credentials = true;
  http::Headers h = reply_headers(c, "https://app.example.com");
  EXPECT_EQ(header(h, "access-control-allow-origin"), "https://app.example.com");
  EXPECT_EQ(header(h, "access-control-allow-credentials"), "true");
}

TEST(Cors, AddsHeadersToRepliesForAnAllowedOriginOnly) {
  http::Headers allowed = reply_headers(app_cors(), "https://app.example.com");
  EXPECT_EQ(header(allowed, "access-control-allow-origin"), "https://app.example.com");
  EXPECT_EQ(header(allowed, "access-control-expose-headers"), "x-kumo-request-id");
  EXPECT_EQ(header(allowed, "vary"), "Origin");
  http::Headers refused = reply_headers(app_cors(), "https://evil.example");
  EXPECT_EQ(header(refused, "access-control-allow-origin"), "");
  EXPECT_EQ(header(refused, "vary"), "Origin");
  EXPECT_TRUE(reply_headers(app_cors(), "").empty());
}

}  // namespace
}  // namespace kumo::api
