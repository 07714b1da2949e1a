// MultiJobTrainer: several training jobs (different tenants, prompts, tasks)
// advanced by ONE forward and ONE backward. Each job contributes the rows of
// its next batch to one mixed batch (prompts/mixed_batch.h); after the
// forward each row goes through its own head, each job's loss is computed
// over its own rows, the losses are summed and backpropagated once, and each
// job's own optimizer steps. The backbone is frozen and rows never attend to
// each other, so a job's gradient is the one it gets alone: batched training
// reproduces training each job separately (up to float rounding).
//
// Thread-safety: not thread-safe; one thread steps the jobs. Ownership:
// jobs are borrowed.
#ifndef PTUNE_SERVER_TRAINING_MULTI_JOB_TRAINER_H_
#define PTUNE_SERVER_TRAINING_MULTI_JOB_TRAINER_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_spec.h"
#include "server/training/trainer.h"
#include "server/training/training_job.h"

namespace ptune::training {

class MultiJobTrainer {
 public:
  explicit MultiJobTrainer(const backbone::Backbone& backbone)
      : backbone_(backbone) {}

  // One optimizer step for every job (each in phase kStep) in one
  // forward/backward. Returns one status per job: a job's own failure
  // (tokenizing, a diverged loss) is its alone; a failed forward or backward
  // is every job's. With `max_rows_per_job` or `max_tokens_per_job` > 0
  // each job contributes only its step's next slice within those bounds
  // (TrainingJob::BeginSlice), and a job steps its optimizer when its last
  // slice has run.
  std::vector<absl::Status> StepBatched(const std::vector<TrainingJob*>& jobs,
                                        int max_rows_per_job = 0,
                                        int max_tokens_per_job = 0);

  // The same steps (or slices) one job after another (one forward/backward
  // each).
  std::vector<absl::Status> StepInTurns(const std::vector<TrainingJob*>& jobs,
                                        int max_rows_per_job = 0,
                                        int max_tokens_per_job = 0);

 private:
  const backbone::Backbone& backbone_;
};

// For benchmarks: `jobs` trained batched and in turns (fresh models from the
// same seeds each way, the two ways alternating step by step so that both
// see the same machine load) for `steps` optimizer steps each after one
// warm-up step; total training examples per second of each way. Evaluation
// is not timed; INVALID_ARGUMENT when a job's epoch is shorter than steps+1.
struct MeasuredJob {
  datasets::Dataset train;
  prompts::PromptSpec spec;
  TrainOptions options;
};
struct TrainingModeFigures {
  double batched_eps = 0;
  double turns_eps = 0;
  int jobs = 0;
  int steps = 0;
};
absl::StatusOr<TrainingModeFigures> MeasureTrainingModes(
    const backbone::Backbone& backbone, const std::vector<MeasuredJob>& jobs,
    int steps);

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_MULTI_JOB_TRAINER_H_
