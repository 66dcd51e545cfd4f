#include "runtimes/model/batcher.h"

#include <fmt/format.h>

#include <cstring>

namespace kumo::model {

std::string batch_key(const std::vector<Tensor>& inputs) {
  std::string key;
  for (const Tensor& t : inputs) {
    key += fmt::format("{}:{}", t.name, static_cast<int>(t.dtype));
    for (size_t i = 1; i < t.shape.size(); ++i) key += fmt::format(",{}", t.shape[i]);
    key += ';';
  }
  return key;
}

std::vector<Tensor> stack(const std::vector<const std::vector<Tensor>*>& requests) {
  std::vector<Tensor> out = *requests.front();
  for (size_t r = 1; r < requests.size(); ++r) {
    for (size_t i = 0; i < out.size(); ++i) {
      const Tensor& t = (*requests[r])[i];
      out[i].shape[0] += t.shape[0];
      out[i].data.insert(out[i].data.end(), t.data.begin(), t.data.end());
    }
  }
  return out;
}

Result<std::vector<std::vector<Tensor>>> split(const std::vector<Tensor>& outputs,
                                               const std::vector<int64_t>& rows) {
  int64_t total = 0;
  for (int64_t n : rows) total += n;
  std::vector<std::vector<Tensor>> pieces(rows.size());
  for (const Tensor& t : outputs) {
    if (t.shape.empty() || t.shape[0] != total) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("output '{}' does not follow the batch dimension ({} rows "
                                    "in, first dimension {} out); set batch.max_size to 1",
                                    t.name, total, t.shape.empty() ? 0 : t.shape[0]));
    }
    size_t row_bytes = total == 0 ? 0 : t.data.size() / static_cast<size_t>(total);
    size_t offset = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      Tensor piece{t.name, t.dtype, t.shape, {}};
      piece.shape[0] = rows[r];
      size_t bytes = row_bytes * static_cast<size_t>(rows[r]);
      piece.data.assign(t.data.begin() + static_cast<ptrdiff_t>(offset),
                        t.data.begin() + static_cast<ptrdiff_t>(offset + bytes));
      offset += bytes;
      pieces[r].push_back(std::move(piece));
    }
  }
  return pieces;
}

Batcher::Batcher(BatchOptions options, Run run)
    : options_(options), run_(std::move(run)), worker_([this] { work(); }) {}

Batcher::~Batcher() {
  std::deque<Pending> left;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  worker_.join();
  for (Pending& p : left) {
    p.done(make_error(ErrorCode::kUnavailable, "the model server stopped"), Pass{});
  }
}

void Batcher::submit(std::vector<Tensor> inputs, Done done) {
  Pending p;
  p.key = batch_key(inputs);
  p.rows = inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
  p.inputs = std::move(inputs);
  p.done = std::move(done);
  p.arrived = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(p));
  }
  cv_.notify_one();
}

void Batcher::work() {
  std::unique_lock lock(mu_);
  while (true) {
    std::vector<Pending> batch = next_batch(lock);
    if (batch.empty()) return;
    lock.unlock();
    run_batch(std::move(batch));
    lock.lock();
  }
}

std::vector<Batcher::Pending> Batcher::next_batch(std::unique_lock<std::mutex>& lock) {
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return {};
    const Pending& oldest = queue_.front();
    int64_t rows = 0;
    for (const Pending& p : queue_) {
      if (p.key == oldest.key) rows += p.rows;
    }
    auto deadline = oldest.arrived + options_.max_delay;
    if (rows >= options_.max_size || std::chrono::steady_clock::now() >= deadline) break;
    cv_.wait_until(lock, deadline);  // a new arrival wakes it too, to count again
  }
  std::vector<Pending> batch;
  batch.push_back(std::move(queue_.front()));
  queue_.pop_front();
  int64_t rows = batch.front().rows;
  for (auto it = queue_.begin(); it != queue_.end() && rows < options_.max_size;) {
    if (it->key == batch.front().key && rows + it->rows <= options_.max_size) {
      rows += it->rows;
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  return batch;
}

void Batcher::run_batch(std::vector<Pending> batch) {
  using std::chrono::duration_cast, std::chrono::microseconds;
  std::vector<const std::vector<Tensor>*> inputs;
  std::vector<int64_t> rows;
  Pass pass;
  for (const Pending& p : batch) {
    inputs.push_back(&p.inputs);
    rows.push_back(p.rows);
    pass.rows += p.rows;
  }
  auto start = std::chrono::steady_clock::now();
  auto outputs = batch.size() == 1 ? run_(batch.front().inputs) : run_(stack(inputs));
  pass.run = duration_cast<microseconds>(std::chrono::steady_clock::now() - start);
  auto pieces = !outputs            ? Result<std::vector<std::vector<Tensor>>>(outputs.error())
                : batch.size() == 1 ? std::vector<std::vector<Tensor>>{std::move(*outputs)}
                                    : split(*outputs, rows);
  for (size_t i = 0; i < batch.size(); ++i) {
    pass.queued = duration_cast<microseconds>(start - batch[i].arrived);
    if (pieces) {
      batch[i].done(std::move((*pieces)[i]), pass);
    } else {
      batch[i].done(pieces.error(), pass);
    }
  }
}

}  // namespace kumo::model
