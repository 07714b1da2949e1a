#ifndef PTUNE_SERVER_BATCHING_BATCH_H_
#define PTUNE_SERVER_BATCHING_BATCH_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace ptune::batching {

// The rows of one forward, as formed by BatchScheduler<TaskT>. The executor
// pads every row to max_tokens().
//
// Thread-safety: not thread-safe; owned by the executor thread. Owns its
// tasks. Move-only.
template <typename TaskT>
class Batch {
 public:
  Batch() = default;
  Batch(Batch&&) = default;
  Batch& operator=(Batch&&) = default;

  void Add(std::unique_ptr<TaskT> task) {
    max_tokens_ = std::max(max_tokens_, task->tokens());
    real_tokens_ += task->tokens();
    tasks_.push_back(std::move(task));
  }

  bool empty() const { return tasks_.empty(); }
  int size() const { return static_cast<int>(tasks_.size()); }
  TaskT& task(int i) const { return *tasks_[i]; }
  std::vector<std::unique_ptr<TaskT>>& tasks() { return tasks_; }

  // Length of the longest row, to which every row is padded.
  int max_tokens() const { return max_tokens_; }
  int64_t real_tokens() const { return real_tokens_; }
  int64_t padded_tokens() const {
    return static_cast<int64_t>(max_tokens_) * size();
  }

  // Fraction of the forward's positions that are padding, relative to the
  // real tokens: padded / real - 1. 0 means no padding; 1 means the forward
  // computes twice the positions it needs. 0 for an empty batch.
  double padding_ratio() const {
    if (real_tokens_ == 0) return 0.0;
    return static_cast<double>(padded_tokens()) / real_tokens_ - 1.0;
  }

 private:
  std::vector<std::unique_ptr<TaskT>> tasks_;
  int max_tokens_ = 0;
  int64_t real_tokens_ = 0;
};

}  // namespace ptune::batching

#endif  // PTUNE_SERVER_BATCHING_BATCH_H_
