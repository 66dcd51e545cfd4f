#include "cli/suggest.h"

#include <gtest/gtest.h>

namespace kumo::cli {
namespace {

const std::vector<std::string> kCommands = {"serve", "deploy", "invoke", "ls",    "describe",
                                            "rm",    "logs",   "usage",  "table", "version"};

TEST(EditDistance, CountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(edit_distance("ls", "ls"), 0u);
  EXPECT_EQ(edit_distance("lss", "ls"), 1u);
  EXPECT_EQ(edit_distance("invok", "invoke"), 1u);
  EXPECT_EQ(edit_distance("deplay", "deploy"), 1u);
  EXPECT_EQ(edit_distance("tabel", "table"), 1u);
  EXPECT_EQ(edit_distance("", "rm"), 2u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Nearest, SuggestsTheClosestCommandForATypo) {
  EXPECT_EQ(nearest("lss", kCommands), "ls");
  EXPECT_EQ(nearest("deplyo", kCommands), "deploy");
  EXPECT_EQ(nearest("invok", kCommands), "invoke");
  EXPECT_EQ(nearest("tabel", kCommands), "table");
  EXPECT_EQ(nearest("versoin", kCommands), "version");
}

TEST(Nearest, SuggestsNothingForAWordFarFromEveryCommand) {
  EXPECT_EQ(nearest("frobnicate", kCommands), std::nullopt);
  EXPECT_EQ(nearest("x", kCommands), std::nullopt);
  EXPECT_EQ(nearest("", kCommands), std::nullopt);
}

}  // namespace
}  // namespace kumo::cli
