#include "executor/log_output.h"

#include <gtest/gtest.h>

#include <regex>
#include <vector>

#include "executor/test_support.h"

namespace kumo::executor {
namespace {

struct Seen {
  std::string request_id;
  std::string text;
};

std::vector<Seen> split(LineSplitter& splitter, std::string_view bytes) {
  std::vector<Seen> out;
  splitter.feed(bytes, [&](const LogLine& l) {
    out.push_back({std::string(l.request_id), std::string(l.text)});
  });
  return out;
}

TEST(LineSplitter, JoinsPartialLinesAndReadsTags) {
  LineSplitter splitter;
  EXPECT_TRUE(split(splitter, "\x1erid-1\x1fhel").empty());
  auto lines = split(splitter, "lo\nplain line\r\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].request_id, "rid-1");
  EXPECT_EQ(lines[0].text, "hello");
  EXPECT_EQ(lines[1].request_id, "");
  EXPECT_EQ(lines[1].text, "plain line");
}

TEST(LineSplitter, EmitsTheUnterminatedRestAtTheEnd) {
  LineSplitter splitter;
  EXPECT_TRUE(split(splitter, "no newline").empty());
  std::vector<std::string> rest;
  splitter.finish([&](const LogLine& l) { rest.emplace_back(l.text); });
  EXPECT_EQ(rest, std::vector<std::string>{"no newline"});
}

TEST(LogFile, AppendsTimestampedLinesWithRequestIdAndStream) {
  testing::TempDir dir;
  std::string path = dir.path() + "/logs/fn.log";
  auto file = LogFile::open(path);
  ASSERT_TRUE(file) << file.error().message;
  file->add(rfc3339_now(), "abc", "stdout", "hello");
  file->add(rfc3339_now(), "", "stderr", "oops");
  file->flush();
  std::string text = testing::read_file(path);
  std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z abc stdout hello
\S+ - stderr oops
)");
  EXPECT_TRUE(std::regex_match(text, line)) << text;
}

}  // namespace
}  // namespace kumo::executor
