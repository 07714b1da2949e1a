// Prompt-length selection: m* = argmax_m g(m), g = the validation metric of a
// prompt of length m trained with everything else fixed.
#ifndef PTUNE_SERVER_TRAINING_LENGTH_SEARCH_H_
#define PTUNE_SERVER_TRAINING_LENGTH_SEARCH_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/training/trainer.h"

namespace ptune::training {

struct LengthTrial {
  int length = 0;
  double valid_metric = 0;
  TrainResult result;
};

struct LengthSearchResult {
  std::unique_ptr<prompts::PromptModel> best;  // trained, best epoch restored
  std::vector<LengthTrial> trials;
};

// Trains one prompt per entry of `lengths` (spec.length replaced) and keeps
// the best on `valid` (ties: the shorter prompt, cheaper to serve).
// `on_trial` runs after each length.
absl::StatusOr<LengthSearchResult> SearchPromptLength(
    const backbone::Backbone& backbone, const prompts::PromptSpec& spec,
    const std::vector<int>& lengths, const datasets::Dataset& train,
    const datasets::Dataset& valid, const TrainOptions& options,
    const ProgressCallback& progress = nullptr,
    const std::function<void(const LengthTrial&)>& on_trial = nullptr);

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_LENGTH_SEARCH_H_
