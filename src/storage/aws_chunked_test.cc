#include "storage/aws_chunked.h"

#include <gtest/gtest.h>

namespace kumo::storage {
namespace {

TEST(AwsChunked, DecodesChunksAndTrailer) {
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  auto trailers = decode_aws_chunked(body);
  ASSERT_TRUE(trailers.has_value()) << trailers.error().message;
  EXPECT_EQ(body, "hello world");
  EXPECT_EQ(trailers->at("x-amz-checksum-crc32"), "DUoRhQ==");
}

TEST(AwsChunked, IgnoresChunkSignaturesAndAcceptsNoTrailer) {
  std::string body = "A;chunk-signature=abc\r\n0123456789\r\n0;chunk-signature=def\r\n";
  auto trailers = decode_aws_chunked(body);
  ASSERT_TRUE(trailers.has_value());
  EXPECT_EQ(body, "0123456789");
  EXPECT_TRUE(trailers->empty());
}

TEST(AwsChunked, RejectsTruncatedAndMalformedBodies) {
  std::string truncated = "10\r\nshort\r\n";
  auto r = decode_aws_chunked(truncated);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "IncompleteBody");

  std::string not_hex = "zz\r\nabc\r\n0\r\n";
  r = decode_aws_chunked(not_hex);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "InvalidRequest");

  std::string too_long = "2\r\nabc\r\n0\r\n";
  EXPECT_FALSE(decode_aws_chunked(too_long).has_value());
}

TEST(AwsChunked, DecodesABodyFedOneByteAtATime) {
  std::string body =
      "5;chunk-signature=ab\r\nhello\r\n6\r\n world\r\n0\r\n"
      "x-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  AwsChunkedDecoder decoder;
  std::string out;
  for (char c : body) {
    auto fed = decoder.feed(std::string_view(&c, 1), [&out](std::string_view data) {
      out.append(data);
      return S3Result<void>();
    });
    ASSERT_TRUE(fed.has_value()) << fed.error().message;
  }
  auto trailers = decoder.finish();
  ASSERT_TRUE(trailers.has_value());
  EXPECT_EQ(out, "hello world");
  EXPECT_EQ(trailers->at("x-amz-checksum-crc32"), "DUoRhQ==");
}

TEST(AwsChunked, StopsWhenTheOutputRefusesMore) {
  std::string body = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
  AwsChunkedDecoder decoder;
  size_t taken = 0;
  auto fed = decoder.feed(body, [&taken](std::string_view data) -> S3Result<void> {
    taken += data.size();
    if (taken > 5) return s3_error("EntityTooLarge", "over");
    return {};
  });
  ASSERT_FALSE(fed.has_value());
  EXPECT_EQ(fed.error().code, "EntityTooLarge");
}

TEST(AwsChunked, RejectsAnEndlessChunkHeader) {
  AwsChunkedDecoder decoder;
  auto fed =
      decoder.feed(std::string(8192, 'a'), [](std::string_view) { return S3Result<void>(); });
  ASSERT_FALSE(fed.has_value());
  EXPECT_EQ(fed.error().code, "InvalidRequest");
}

}  // namespace
}  // namespace kumo::storage
