#include "server/training/prompt_search.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"
#include "server/training/task_batch.h"

namespace ptune::training {

int DefaultSearchJobEpochs(size_t train_examples, int search_epochs) {
  return std::max(DefaultEpochs(train_examples), search_epochs);
}

SearchSchedule::SearchSchedule(size_t candidates, int search_epochs, int epochs)
    : candidates_(candidates),
      search_epochs_(std::clamp(search_epochs, 1, std::max(epochs, 1))),
      epochs_(epochs) {}

int SearchSchedule::trial_patience(int patience) const {
  return searching() ? std::min(patience, search_epochs_) : patience;
}

int SearchSchedule::total_epochs() const {
  if (!searching()) return epochs_;
  return static_cast<int>(candidates_) * search_epochs_ +
         (continues() ? epochs_ - search_epochs_ : 0);
}

int SearchSchedule::epochs_before_trial(size_t i) const {
  return static_cast<int>(i) * trial_epochs();
}

int SearchSchedule::epochs_before_continuation() const {
  return static_cast<int>(candidates_ - 1) * search_epochs_;
}

bool SearchSchedule::Record(double valid_metric) {
  const bool better = valid_metric > best_metric_;
  if (better) {
    best_ = recorded_;
    best_metric_ = valid_metric;
  }
  ++recorded_;
  return better;
}

absl::StatusOr<SearchResult> SearchPrompts(
    const backbone::Backbone& backbone, const std::vector<prompts::PromptSpec>& candidates,
    const datasets::Dataset& train, const datasets::Dataset& valid,
    const TrainOptions& options, int search_epochs, const ProgressCallback& progress,
    const std::function<void(const SearchTrial&)>& on_trial) {
  if (candidates.empty()) return absl::InvalidArgumentError("no prompt candidates to train");
  SearchSchedule schedule(candidates.size(), search_epochs, options.epochs);
  std::optional<common::ScratchDir> scratch;
  if (schedule.searching()) {
    ASSIGN_OR_RETURN(scratch, common::ScratchDir::Create("ptune-search"));
  }
  const auto checkpoint_of = [&](size_t i) {
    return scratch ? absl::StrCat(scratch->path(), "/candidate-", i) : options.checkpoint_path;
  };
  SearchResult search;
  for (size_t i = 0; i < candidates.size(); ++i) {
    ASSIGN_OR_RETURN(auto model, prompts::PromptModel::Create(backbone, train.task,
                                                              ModelLabels(train),
                                                              candidates[i], options.seed));
    TrainOptions trial_options = options;
    trial_options.epochs = schedule.trial_epochs();
    trial_options.patience = schedule.trial_patience(options.patience);
    trial_options.checkpoint_path = checkpoint_of(i);
    ASSIGN_OR_RETURN(TrainResult result,
                     Train(backbone, *model, train, valid, trial_options, progress));
    search.trials.push_back({candidates[i], result});
    if (on_trial) on_trial(search.trials.back());
    if (schedule.Record(result.best_valid_metric)) {
      search.best = std::move(model);
      search.final_result = std::move(result);
    }
  }
  if (search.best == nullptr) return absl::InternalError("no candidate scored on validation");
  search.best_index = schedule.best();
  if (schedule.continues()) {
    // Train restores the winner's last search epoch from its checkpoint
    // (parameters, optimizer, best so far) and goes on to options.epochs.
    TrainOptions rest = options;
    rest.checkpoint_path = checkpoint_of(search.best_index);
    ASSIGN_OR_RETURN(search.final_result,
                     Train(backbone, *search.best, train, valid, rest, progress));
  }
  return search;
}

}  // namespace ptune::training
