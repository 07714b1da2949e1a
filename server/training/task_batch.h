// Turns dataset examples into model batches: tokens plus training targets.
// Classification targets are label indices; tagging targets label the FIRST
// sub-word of each word with its BIO tag and ignore (-100) every other
// position (later sub-words, [CLS]/[SEP], padding; virtual prompt positions
// never appear because heads see text tokens only).
#ifndef PTUNE_SERVER_TRAINING_TASK_BATCH_H_
#define PTUNE_SERVER_TRAINING_TASK_BATCH_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_model.h"

namespace ptune::training {

constexpr int64_t kIgnoreIndex = -100;

struct TaskBatch {
  backbone::TokenBatch tokens;
  at::Tensor targets;  // [B] or [B, T] int64 on the backbone's device
  int64_t scored_targets = 0;  // targets that count in the loss (not ignored)
  // Tagging: per row and word, the token holding the word's first sub-word,
  // or -1 when the word produced no token (removed characters, truncation).
  std::vector<std::vector<int32_t>> word_tokens;
};

// For each word span, the index of the first token whose offset begins
// inside it (-1 when none). `offsets` are the tokenizer's code-point offsets.
std::vector<int32_t> FirstTokenOfEachWord(
    const std::vector<datasets::Span>& words,
    const std::vector<std::pair<int32_t, int32_t>>& offsets);

// Builds the batch of `indices` of `data` for `model` (labels mapped through
// model.labels(); an unknown label is INVALID_ARGUMENT naming it).
absl::StatusOr<TaskBatch> MakeTaskBatch(const backbone::Backbone& backbone,
                                        const prompts::PromptModel& model,
                                        const datasets::Dataset& data,
                                        const std::vector<size_t>& indices,
                                        int max_tokens);

// `indices` ordered by text length (stable) and cut into batches of
// `batch_size`: similar lengths together, so batches pad less.
std::vector<std::vector<size_t>> LengthSortedBatches(const datasets::Dataset& data,
                                                     std::vector<size_t> indices,
                                                     int batch_size);

// The label set a model for `data` needs: the classification labels, or the
// BIO tags of the entity types.
std::vector<std::string> ModelLabels(const datasets::Dataset& data);

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_TASK_BATCH_H_
