#include "storage/checksums.h"

#include <gtest/gtest.h>

#include <vector>

#include "storage/xml.h"

namespace kumo::storage {
namespace {

TEST(Checksums, MatchKnownDigests) {
  BodyDigest d = digest_of("hello world");
  EXPECT_EQ(d.md5_hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  // crc32("hello world") = 0x0d4a1185, as the AWS SDK sends it.
  EXPECT_EQ(d.crc32_base64, "DUoRhQ==");
  EXPECT_EQ(digest_of("").crc32_base64, "AAAAAA==");
}

TEST(Checksums, FedInPiecesEqualsWhole) {
  Digests d;
  d.update("hello ");
  d.update("world");
  EXPECT_EQ(to_hex(d.md5()), "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(crc32_base64(d.crc32()), "DUoRhQ==");
}

TEST(Checksums, Base64RoundTripsAndRejectsGarbage) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto back = base64_decode(base64_encode(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(base64_decode("abc").has_value());
  EXPECT_FALSE(base64_decode("a*c=").has_value());
}

TEST(Checksums, Sha256AndHex) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(from_hex("00ff10"), std::string("\0\xff\x10", 3));
  EXPECT_FALSE(from_hex("0g").has_value());
}

TEST(Xml, WritesEscapedDocumentsAndParsesElements) {
  XmlWriter w("Root");
  w.open("Item").leaf("Key", "a<b&\"c\"").close("Item");
  std::string doc = w.finish();
  EXPECT_NE(doc.find("<Key>a&lt;b&amp;\"c\"</Key>"), std::string::npos);
  auto parsed = parse_xml(doc);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->name, "Root");
  ASSERT_NE(parsed->child("Item"), nullptr);
  EXPECT_EQ(parsed->child("Item")->child("Key")->text, "a<b&\"c\"");
}

TEST(Xml, RejectsMalformedDocuments) {
  for (std::string_view bad : {"", "<a>", "<a></b>", "not xml"}) {
    auto parsed = parse_xml(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code, "MalformedXML");
  }
}

}  // namespace
}  // namespace kumo::storage
