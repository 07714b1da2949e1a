// Prompt search: train candidate specs (lengths, templates, verbalizers) and
// keep the best on validation, m* = argmax_m g(m). One schedule for the
// service's TrainingJobExecutor and ptune-inspect: every candidate trains
// for `search_epochs` (its patience at most that), then the best one (ties:
// the earlier, i.e. the shorter or simpler, candidate) resumes from its last
// search epoch to `epochs`, on the full run's learning-rate schedule from
// that step on. One candidate is a plain run of `epochs`.
#ifndef PTUNE_SERVER_TRAINING_PROMPT_SEARCH_H_
#define PTUNE_SERVER_TRAINING_PROMPT_SEARCH_H_

#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/training/trainer.h"

namespace ptune::training {

// Epochs each candidate trains for when a search does not say.
inline constexpr int kDefaultSearchEpochs = 1;

// The epochs of a job that gives none: DefaultEpochs of its training rows,
// and at least search_epochs (every candidate's run fits in the job).
int DefaultSearchJobEpochs(size_t train_examples, int search_epochs);

// The bookkeeping of the schedule above, apart from how a phase runs: the
// service runs its phases through the engine, ptune-inspect through Train.
class SearchSchedule {
 public:
  // search_epochs is clamped to 1..epochs.
  SearchSchedule(size_t candidates, int search_epochs, int epochs);

  bool searching() const { return candidates_ > 1; }
  // Whether the winner trains on after the candidates' runs.
  bool continues() const { return searching() && search_epochs_ < epochs_; }
  // Epochs and patience of one candidate's run.
  int trial_epochs() const { return searching() ? search_epochs_ : epochs_; }
  int trial_patience(int patience) const;
  // Epochs of the whole job, every phase: the denominator of its progress.
  int total_epochs() const;
  // Epochs the phases before candidate i's run (or before the winner's
  // continuation, whose epochs count from search_epochs + 1) took.
  int epochs_before_trial(size_t i) const;
  int epochs_before_continuation() const;

  // Records the next candidate's best validation metric; true when it is
  // the best so far (never for NaN).
  bool Record(double valid_metric);
  // The best candidate so far (0 before any Record).
  size_t best() const { return best_; }

 private:
  size_t candidates_;
  int search_epochs_;
  int epochs_;
  size_t recorded_ = 0;
  size_t best_ = 0;
  double best_metric_ = -std::numeric_limits<double>::infinity();
};

struct SearchTrial {
  prompts::PromptSpec spec;
  TrainResult result;  // of its search run (the whole run for one candidate)
};

struct SearchResult {
  std::unique_ptr<prompts::PromptModel> best;  // trained, best epoch restored
  size_t best_index = 0;
  std::vector<SearchTrial> trials;
  TrainResult final_result;  // the winner's whole run, continuation included
};

// Runs the schedule with Train: one model per candidate (labels from
// `train`), seeded by options.seed. A search keeps its candidates'
// checkpoints in a scratch folder and ignores options.checkpoint_path (it
// restarts its candidates, as the service does); one candidate trains with
// it. `on_trial` runs after each candidate's run.
absl::StatusOr<SearchResult> SearchPrompts(
    const backbone::Backbone& backbone, const std::vector<prompts::PromptSpec>& candidates,
    const datasets::Dataset& train, const datasets::Dataset& valid,
    const TrainOptions& options, int search_epochs = kDefaultSearchEpochs,
    const ProgressCallback& progress = nullptr,
    const std::function<void(const SearchTrial&)>& on_trial = nullptr);

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_PROMPT_SEARCH_H_
