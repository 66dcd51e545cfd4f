#include "api/log_reader.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/ids.h"

namespace kumo::api {
namespace {

std::string temp_log(const std::string& content) {
  // A name per call: ctest runs the tests of this file in parallel.
  auto path = std::filesystem::temp_directory_path() / ("kumo_log_reader_" + new_short_id() + ".log");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path.string();
}

TEST(LogReader, TailReturnsTheLastLines) {
  std::string path = temp_log("a\nb\nc\nd\n");
  EXPECT_EQ(read_log_tail(path, 2).text, "c\nd\n");
  EXPECT_EQ(read_log_tail(path, 10).text, "a\nb\nc\nd\n");
  EXPECT_EQ(read_log_tail(path, 0).text, "");
}

TEST(LogReader, TailLeavesAPartialLastLineForTheFollower) {
  std::string path = temp_log("a\nb\npart");
  LogTail tail = read_log_tail(path, 5);
  EXPECT_EQ(tail.text, "a\nb\n");
  std::ofstream(path, std::ios::app) << "ial\nnext\n";
  uint64_t offset = tail.end;
  EXPECT_EQ(read_log_from(path, offset), "partial\nnext\n");
  EXPECT_EQ(read_log_from(path, offset), "");
}

TEST(LogReader, MissingFileIsEmpty) {
  EXPECT_EQ(read_log_tail("/nonexistent/kumo.log", 5).text, "");
}

}  // namespace
}  // namespace kumo::api
