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

}  // namespace
}  // namespace kumo::executor
