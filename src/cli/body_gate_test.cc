#include "cli/body_gate.h"

#include <gtest/gtest.h>

namespace kumo::cli {
namespace {

struct Printed {
  std::string text;
  int writes = 0;
  BodyGate::Sink sink() {
    return [this](std::string_view chunk) {
      text.append(chunk);
      ++writes;
    };
  }
};

TEST(BodyGate, PassesAStreamedReplyThroughChunkByChunk) {
  Printed out;
  BodyGate gate(out.sink());
  gate.feed("data: one\n");
  EXPECT_EQ(out.text, "data: one\n");  // printed before the reply ends
  gate.feed("data: two\n");
  EXPECT_EQ(gate.finish(true), "");
  EXPECT_EQ(out.text, "data: one\ndata: two\n");
}

TEST(BodyGate, HoldsBackAnErrorBodyAndReturnsItOnFailure) {
  Printed out;
  BodyGate gate(out.sink());
  gate.feed(R"({"err)");
  gate.feed(R"(or":{"type":"not_found","message":"function 'x' not found"}})");
  EXPECT_EQ(gate.finish(false),
            R"({"error":{"type":"not_found","message":"function 'x' not found"}})");
  EXPECT_EQ(out.text, "");
}

TEST(BodyGate, PrintsAHeldBodyWhenTheReplySucceeded) {
  Printed out;
  BodyGate gate(out.sink());
  gate.feed(R"({"error": false})");  // a function's own result that merely looks alike
  EXPECT_EQ(out.text, "");
  EXPECT_EQ(gate.finish(true), "");
  EXPECT_EQ(out.text, R"({"error": false})");
}

TEST(BodyGate, ReleasesAShortPrefixOnceItDiverges) {
  Printed out;
  BodyGate gate(out.sink());
  gate.feed("{");
  EXPECT_EQ(out.text, "");
  gate.feed(R"("result":1})");
  EXPECT_EQ(out.text, R"({"result":1})");
}

TEST(BodyGate, ReturnsNothingOnFailureAfterTheBodyWentOut) {
  Printed out;
  BodyGate gate(out.sink());
  gate.feed("partial output");
  EXPECT_EQ(gate.finish(false), "");
  EXPECT_EQ(out.text, "partial output");
}

}  // namespace
}  // namespace kumo::cli
