#include "api/http_event.h"

#include <gtest/gtest.h>

namespace kumo::api {
namespace {

using nlohmann::json;

TEST(HttpEvent, HasTheApiGatewayV2Shape) {
  HttpEventInput in{"POST", "/greet", "name=a&name=b&x=%20y",
                    {{"Content-Type", "application/json"}, {"Cookie", "c=1"}, {"X-A", "1"}},
                    R"({"k":1})", "127.0.0.1", "rid-1", "hello", 1700000000000};
  json e = json::parse(make_http_event(in));
  EXPECT_EQ(e["version"], "2.0");
  EXPECT_EQ(e["rawPath"], "/greet");
  EXPECT_EQ(e["rawQueryString"], "name=a&name=b&x=%20y");
  EXPECT_EQ(e["queryStringParameters"]["name"], "a,b");
  EXPECT_EQ(e["queryStringParameters"]["x"], " y");
  EXPECT_EQ(e["headers"]["x-a"], "1");
  EXPECT_EQ(e["cookies"][0], "c=1");
  EXPECT_EQ(e["requestContext"]["http"]["method"], "POST");
  EXPECT_EQ(e["requestContext"]["requestId"], "rid-1");
  EXPECT_EQ(e["body"], R"({"k":1})");
  EXPECT_FALSE(e["isBase64Encoded"]);
}

TEST(HttpEvent, BinaryBodiesAreBase64) {
  std::string body("\x00\xff\x10", 3);
  HttpEventInput in{"PUT", "/", "", {{"content-type", "image/png"}}, body, "", "r", "f", 0};
  json e = json::parse(make_http_event(in));
  EXPECT_TRUE(e["isBase64Encoded"]);
  EXPECT_EQ(base64_decode(e["body"].get<std::string>()), body);
}

TEST(ProxyResponse, ReadsStatusHeadersAndBase64Body) {
  HttpReply r = read_proxy_response(
      R"({"statusCode":201,"headers":{"X-Y":"z"},"cookies":["a=b"],"body":"aGk=","isBase64Encoded":true})",
      "application/json");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "hi");
  ASSERT_GE(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].first, "X-Y");
  EXPECT_EQ(r.headers[1].second, "a=b");
}

TEST(ProxyResponse, PlainJsonIsA200WithThatBody) {
  HttpReply r = read_proxy_response(R"({"hello":"world"})", "application/json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"hello":"world"})");
}

TEST(ProxyResponse, RawBytesPassThrough) {
  HttpReply r = read_proxy_response("PNG...", "image/png");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "PNG...");
  EXPECT_EQ(r.headers[0].second, "image/png");
}

TEST(ProxyResponse, ABodyNestedFiftyThousandDeepPassesThroughUnparsed) {
  // Parsed, its "body" would be dumped back to text by a recursive serializer.
  std::string deep = std::string(50'000, '[') + std::string(50'000, ']');
  std::string result = R"({"statusCode": 200, "body": )" + deep + "}";
  HttpReply r = read_proxy_response(result, "application/json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, result);
}

TEST(Base64, RoundTripsEveryLength) {
  for (std::string s : {"", "a", "ab", "abc", "abcd"}) EXPECT_EQ(base64_decode(base64_encode(s)), s);
}

}  // namespace
}  // namespace kumo::api
