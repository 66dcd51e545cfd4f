#include "executor/frame.h"

#include <gtest/gtest.h>

namespace kumo::executor {
namespace {

TEST(FrameReader, DecodesFramesSplitAcrossReads) {
  std::string bytes = encode_frame(FrameType::kResult, 7, R"({"content_type":"x"})", "body") +
                      encode_frame(FrameType::kReady, 0, "", "");
  FrameReader reader;
  for (char c : bytes) {  // one byte at a time: the worst split a pipe can produce
    reader.append(std::string_view(&c, 1));
  }
  auto first = reader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, FrameType::kResult);
  EXPECT_EQ(first->slot, 7u);
  EXPECT_EQ(first->meta, R"({"content_type":"x"})");
  EXPECT_EQ(first->body, "body");
  auto second = reader.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->type, FrameType::kReady);
  EXPECT_FALSE(reader.next());
}

TEST(FrameReader, WaitsForTheRestOfAPartialFrame) {
  std::string bytes = encode_frame(FrameType::kChunk, 1, "", std::string(1000, 'x'));
  FrameReader reader;
  reader.append(std::string_view(bytes).substr(0, 500));
  EXPECT_FALSE(reader.next());
  reader.append(std::string_view(bytes).substr(500));
  auto frame = reader.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->body.size(), 1000u);
}

TEST(FrameReader, FlagsAnAbsurdLengthAsCorrupt) {
  FrameReader reader;
  reader.append(std::string("\x04\0\0\0\1\xff\xff\xff\xff\0\0\0\0", 13));
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.corrupt());
}

TEST(FrameReader, DropsABodyOverItsLimitAndReadsTheFramesAfterIt) {
  std::string big = encode_frame(FrameType::kResult, 3, R"({"content_type":"x"})",
                                 std::string(5000, 'x'));
  std::string next = encode_frame(FrameType::kResult, 4, "", "small");
  FrameReader reader(/*max_body=*/1000);
  reader.append(std::string_view(big).substr(0, 2000));
  auto dropped = reader.next();
  ASSERT_TRUE(dropped);  // reported before the rest of its body arrived
  EXPECT_EQ(dropped->slot, 3u);
  EXPECT_EQ(dropped->meta, R"({"content_type":"x"})");
  EXPECT_EQ(dropped->dropped_body, 5000u);
  EXPECT_TRUE(dropped->body.empty());
  EXPECT_EQ(reader.buffered(), 0u);
  for (size_t at = 2000; at < big.size(); at += 700) {
    reader.append(std::string_view(big).substr(at, 700));
    EXPECT_EQ(reader.buffered(), 0u);  // the dropped body's bytes are never held
  }
  reader.append(next);
  auto after = reader.next();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->slot, 4u);
  EXPECT_EQ(after->body, "small");
  EXPECT_FALSE(after->dropped_body);
  EXPECT_FALSE(reader.corrupt());
}

TEST(FrameReader, KeepsABodyAtItsLimit) {
  FrameReader reader(/*max_body=*/10);
  reader.append(encode_frame(FrameType::kChunk, 1, "", std::string(10, 'y')));
  auto frame = reader.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->body, std::string(10, 'y'));
  EXPECT_FALSE(frame->dropped_body);
}

}  // namespace
}  // namespace kumo::executor
