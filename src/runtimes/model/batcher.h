// Dynamic batching, with the semantics of Triton's dynamic batcher and Ray Serve's
// @serve.batch: concurrent requests queue; a batch closes when it holds `max_size` rows
// (the sum of the requests' first dimensions) or when its oldest request has waited
// `max_delay`; the requests' inputs are stacked along dimension 0, the model runs once and
// its outputs are split back. Only requests whose inputs agree in everything but dimension
// 0 share a batch; a request with `max_size` rows or more runs alone.
//
// stack(), split() and batch_key() are pure. Batcher owns one worker thread that runs the
// model, so forward passes never overlap; submit() is thread-safe; the destructor fails what
// is still queued (kUnavailable) and joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "runtimes/model/tensor.h"

namespace kumo::model {

// Requests with equal keys can be stacked: same inputs, types and non-batch dimensions.
std::string batch_key(const std::vector<Tensor>& inputs);

// Concatenates each input along dimension 0 across `requests` (all of one batch_key).
std::vector<Tensor> stack(const std::vector<const std::vector<Tensor>*>& requests);

// Splits each output along dimension 0 into pieces of `rows` rows, one set per request.
// kInternal when an output's first dimension is not the sum of `rows` (a model whose
// outputs do not follow its batch dimension cannot be batched).
Result<std::vector<std::vector<Tensor>>> split(const std::vector<Tensor>& outputs,
                                               const std::vector<int64_t>& rows);

struct BatchOptions {
  int max_size = 1;  // 1: no batching, one request per forward pass
  std::chrono::microseconds max_delay{0};
};

class Batcher {
 public:
  using Run = std::function<Result<std::vector<Tensor>>(const std::vector<Tensor>&)>;
  // How a request was served: the rows of the forward pass it was part of, how long it
  // waited in the queue and how long the pass took.
  struct Pass {
    int64_t rows = 0;
    std::chrono::microseconds queued{0}, run{0};
  };
  // This request's outputs or the run's error.
  using Done = std::function<void(Result<std::vector<Tensor>>, Pass)>;

  Batcher(BatchOptions options, Run run);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues one request (inputs in the model's order, dimension 0 the batch); `done` runs
  // on the worker thread.
  void submit(std::vector<Tensor> inputs, Done done);

 private:
  struct Pending {
    std::vector<Tensor> inputs;
    Done done;
    std::string key;
    int64_t rows = 0;
    std::chrono::steady_clock::time_point arrived;
  };

  void work();
  // Takes the next batch out of queue_, waiting for it to fill; empty when stopping.
  std::vector<Pending> next_batch(std::unique_lock<std::mutex>& lock);
  void run_batch(std::vector<Pending> batch);

  const BatchOptions options_;
  const Run run_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // Guarded by mu_.
  bool stopping_ = false;      // Guarded by mu_.
  std::thread worker_;
};

}  // namespace kumo::model
