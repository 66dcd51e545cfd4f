#include "runtimes/model/batcher.h"

#include <gtest/gtest.h>

#include <future>

namespace kumo::model {
namespace {

using namespace std::chrono_literals;

// A request of `rows` rows of width `width`, each element its global row index.
Tensor rows_tensor(int64_t first, int64_t rows, int64_t width = 2) {
  Tensor t{"x", DType::kFp32, {rows, width}, {}};
  t.data.resize(static_cast<size_t>(rows * width) * sizeof(float));
  auto* p = reinterpret_cast<float*>(t.data.data());
  for (int64_t i = 0; i < rows * width; ++i) p[i] = static_cast<float>(first + i / width);
  return t;
}

TEST(Stack, ConcatenatesAlongTheFirstDimensionAndSplitGivesEachItsRows) {
  std::vector<Tensor> a{rows_tensor(0, 1)}, b{rows_tensor(1, 3)}, c{rows_tensor(4, 2)};
  std::vector<Tensor> batch = stack({&a, &b, &c});
  ASSERT_EQ(batch[0].shape, (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(batch[0].as<float>()[11], 5.0f);
  auto pieces = split(batch, {1, 3, 2});
  ASSERT_TRUE(pieces);
  ASSERT_EQ(pieces->size(), 3u);
  EXPECT_EQ((*pieces)[1][0].shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ((*pieces)[1][0].data, b[0].data);
  EXPECT_EQ((*pieces)[2][0].data, c[0].data);
}

TEST(Split, RefusesOutputsThatDoNotFollowTheBatch) {
  Tensor summary{"sum", DType::kFp32, {1}, std::vector<std::byte>(4)};
  auto pieces = split({summary}, {2, 1});
  ASSERT_FALSE(pieces);
  EXPECT_NE(pieces.error().message.find("batch.max_size to 1"), std::string::npos);
}

TEST(BatchKey, TellsApartRequestsThatCannotShareABatch) {
  EXPECT_EQ(batch_key({rows_tensor(0, 1)}), batch_key({rows_tensor(0, 5)}));
  EXPECT_NE(batch_key({rows_tensor(0, 1, 2)}), batch_key({rows_tensor(0, 1, 3)}));
}

// Records each forward pass's batch size and answers with the inputs doubled.
struct Model {
  std::mutex mu;
  std::vector<int64_t> passes;
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& in) {
    std::lock_guard lock(mu);
    passes.push_back(in[0].shape[0]);
    Tensor out = in[0];
    auto* p = reinterpret_cast<float*>(out.data.data());
    for (int64_t i = 0; i < element_count(out.shape); ++i) p[i] *= 2;
    return std::vector<Tensor>{out};
  }
};

TEST(Batcher, StacksConcurrentRequestsIntoOnePassAndAnswersEachItsOwnRows) {
  Model model;
  Batcher batcher({4, 10s}, [&](const std::vector<Tensor>& in) { return model.run(in); });
  std::vector<std::future<Result<std::vector<Tensor>>>> answers;
  for (int i = 0; i < 4; ++i) {
    auto promise = std::make_shared<std::promise<Result<std::vector<Tensor>>>>();
    answers.push_back(promise->get_future());
    batcher.submit({rows_tensor(i, 1)}, [promise](auto r, Batcher::Pass pass) {
      EXPECT_EQ(pass.rows, 4);
      promise->set_value(std::move(r));
    });
  }
  for (int i = 0; i < 4; ++i) {
    auto r = answers[static_cast<size_t>(i)].get();  // closes on size, not the 10 s delay
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)[0].as<float>()[0], 2.0f * static_cast<float>(i));
  }
  EXPECT_EQ(model.passes, (std::vector<int64_t>{4}));
}

TEST(Batcher, RunsAPartialBatchOnceTheOldestWaitedMaxDelay) {
  Model model;
  Batcher batcher({8, 20ms}, [&](const std::vector<Tensor>& in) { return model.run(in); });
  std::promise<void> done;
  batcher.submit({rows_tensor(0, 3)}, [&](auto, Batcher::Pass) { done.set_value(); });
  done.get_future().get();
  EXPECT_EQ(model.passes, (std::vector<int64_t>{3}));
}

TEST(Batcher, RunsRequestsOfOtherShapesSeparately) {
  Model model;
  Batcher batcher({2, 10ms}, [&](const std::vector<Tensor>& in) { return model.run(in); });
  std::promise<void> a, b;
  batcher.submit({rows_tensor(0, 1, 2)}, [&](auto r, Batcher::Pass) {
    EXPECT_TRUE(r);
    a.set_value();
  });
  batcher.submit({rows_tensor(0, 1, 3)}, [&](auto r, Batcher::Pass) {
    EXPECT_TRUE(r);
    b.set_value();
  });
  a.get_future().get();
  b.get_future().get();
  EXPECT_EQ(model.passes, (std::vector<int64_t>{1, 1}));
}

TEST(Batcher, WithMaxSizeOneRunsEachRequestAlone) {
  Model model;
  Batcher batcher({1, 0us}, [&](const std::vector<Tensor>& in) { return model.run(in); });
  std::promise<void> last;
  for (int i = 0; i < 3; ++i) {
    batcher.submit({rows_tensor(i, 1)}, [&, i](auto, Batcher::Pass) {
      if (i == 2) last.set_value();
    });
  }
  last.get_future().get();
  EXPECT_EQ(model.passes, (std::vector<int64_t>{1, 1, 1}));
}

}  // namespace
}  // namespace kumo::model
