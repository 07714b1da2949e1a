#include "server/training/length_search.h"

#include "server/common/status_macros.h"
#include "server/training/task_batch.h"

namespace ptune::training {

absl::StatusOr<LengthSearchResult> SearchPromptLength(
    const backbone::Backbone& backbone, const prompts::PromptSpec& spec,
    const std::vector<int>& lengths, const datasets::Dataset& train,
    const datasets::Dataset& valid, const TrainOptions& options,
    const ProgressCallback& progress,
    const std::function<void(const LengthTrial&)>& on_trial) {
  if (lengths.empty()) return absl::InvalidArgumentError("no prompt lengths to try");
  LengthSearchResult search;
  double best_metric = -1;
  for (int length : lengths) {
    prompts::PromptSpec trial_spec = spec;
    trial_spec.length = length;
    ASSIGN_OR_RETURN(auto model,
                     prompts::PromptModel::Create(backbone, train.task,
                                                  ModelLabels(train), trial_spec,
                                                  options.seed));
    TrainOptions trial_options = options;
    trial_options.checkpoint_path.clear();  // one checkpoint file per job, not per trial
    ASSIGN_OR_RETURN(TrainResult result,
                     Train(backbone, *model, train, valid, trial_options, progress));
    LengthTrial trial{length, result.best_valid_metric, result};
    if (on_trial) on_trial(trial);
    search.trials.push_back(trial);
    if (result.best_valid_metric > best_metric) {
      best_metric = result.best_valid_metric;
      search.best = std::move(model);
    }
  }
  return search;
}

}  // namespace ptune::training
