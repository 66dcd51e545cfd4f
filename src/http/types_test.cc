#include "http/types.h"

#include <gtest/gtest.h>

#include "http/client.h"

namespace kumo::http {
namespace {

TEST(HttpTypes, HeaderLookupIgnoresCase) {
  Headers headers = {{"Content-Type", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(find_header(headers, "content-type"), "text/plain");
  EXPECT_EQ(find_header(headers, "X-a"), "1");
  EXPECT_EQ(find_header(headers, "missing"), "");
}

TEST(HttpTypes, UrlDecodeKeepsMalformedEscapes) {
  EXPECT_EQ(url_decode("a%20b%2fc"), "a b/c");
  EXPECT_EQ(url_decode("100%"), "100%");
  EXPECT_EQ(url_decode("%zz"), "%zz");
  EXPECT_EQ(url_decode("a+b"), "a+b");
  EXPECT_EQ(url_decode("a+b", true), "a b");
  EXPECT_EQ(url_decode(url_encode("key with/slash & ünï")), "key with/slash & ünï");
  EXPECT_EQ(url_encode("a b/c", true), "a%20b/c");
}

TEST(HttpTypes, ParseQuerySplitsAndDecodes) {
  auto q = parse_query("since=1h&name=a%20b&flag&x=1&x=2&=&&");
  EXPECT_EQ(q.at("since"), "1h");
  EXPECT_EQ(q.at("name"), "a b");
  EXPECT_EQ(q.at("flag"), "");
  EXPECT_EQ(q.at("x"), "1");
}

TEST(ParseBaseUrl, AcceptsHostAndOptionalPort) {
  auto ep = parse_base_url("http://127.0.0.1:8080");
  ASSERT_TRUE(ep.has_value());
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 8080);
  auto plain = parse_base_url("http://example.com/");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->host, "example.com");
  EXPECT_EQ(plain->port, 80);
  auto v6 = parse_base_url("http://[::1]:9000");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
}

TEST(ParseBaseUrl, RejectsWhatItCannotServe) {
  for (const char* bad : {"https://x:1", "ftp://x", "127.0.0.1:8080", "http://", "http://x:0",
                          "http://x:99999", "http://x:80a", "http://x/api", "http://x:"}) {
    auto ep = parse_base_url(bad);
    ASSERT_FALSE(ep.has_value()) << bad;
    EXPECT_EQ(ep.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(ep.error().message.find("http://HOST:PORT"), std::string::npos);
  }
}

}  // namespace
}  // namespace kumo::http
