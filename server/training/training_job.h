// TrainingJob: one prompt's training run, advanced one optimizer step at a
// time so a caller (Train, the engine's executor, MultiJobTrainer) decides
// when each step runs. It owns the optimizer, the learning-rate schedule,
// the epoch order, its own RNG (prompt dropout draws from it, never from
// LibTorch's global generator, so jobs sharing a process stay independent
// and reproducible), best-epoch tracking, early stopping and the checkpoint
// state, which it writes and reads as bytes.
//
// Life cycle: phase() is kStep while batches of the current epoch remain,
// kEvaluate when the epoch's training is over (call EndEpoch), kDone when
// the run is over (call Finish once). A step is Step() alone, or
// BeginStep → (a forward over its rows, maybe with other jobs' rows) →
// StepLoss → backward → EndStep.
//
// Slices (gradient accumulation): a step's batch may be run as several
// slices of at most `max_rows` rows each — StepSlice(max_rows), or
// BeginSlice(max_rows) → forward → StepLoss → backward → EndStep per slice —
// so that one forward/backward, and the executor turn it takes, stays short.
// Each slice's loss is its part of the full batch's mean loss (the slice
// losses sum to it), gradients accumulate, and the optimizer steps after the
// last slice: a sliced step gives the unsliced step's result up to float
// rounding. The prompt (with its dropout draw) is computed once per step and
// its gradient backpropagated into the prompt's parameters (reparam MLP
// included) once, after the last slice. step() counts completed steps.
//
// Multi-task prompt pre-training: a job may carry auxiliary tasks, each
// with its own head (a model of the same prompt kind and length) and its own
// training set, that train the main model's prompt alongside the main task:
// every step's batch comes from one task and goes through the shared prompt
// and that task's head; an epoch is one pass over every task's training set,
// the batches of all tasks shuffled together (examples-proportional mixing).
// Validation, best-epoch selection and early stopping read the main task's
// validation set only; the auxiliary heads are discarded with the job.
//
// Thread-safety: not thread-safe; one thread drives a job at a time.
// Ownership: the models and datasets are borrowed and must outlive the job.
#ifndef PTUNE_SERVER_TRAINING_TRAINING_JOB_H_
#define PTUNE_SERVER_TRAINING_TRAINING_JOB_H_

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/datasets/dataset.h"
#include "server/device/device_copy.h"
#include "server/prompts/mixed_batch.h"
#include "server/prompts/prompt_model.h"
#include "server/training/evaluator.h"
#include "server/training/task_batch.h"
#include "server/training/trainer.h"

namespace torch::optim {
class AdamW;
}

namespace ptune::training {

// A task of the job: the model whose head (and case table) scores its rows,
// and its training data. For an auxiliary task the model's own prompt goes
// unused: its rows read the main model's.
struct JobTask {
  prompts::PromptModel* model = nullptr;
  const datasets::Dataset* train = nullptr;
};

class TrainingJob {
 public:
  enum class Phase { kStep, kEvaluate, kDone };

  // `options.checkpoint_path` is ignored here (Train handles the file).
  // `auxiliary`: the tasks of multi-task pre-training (see above); each
  // model must have the main model's prompt kind and length, and its data
  // its task.
  static absl::StatusOr<std::unique_ptr<TrainingJob>> Create(
      const backbone::Backbone& backbone, prompts::PromptModel& model,
      const datasets::Dataset& train, const datasets::Dataset& valid,
      const TrainOptions& options, std::vector<JobTask> auxiliary = {});
  ~TrainingJob();

  Phase phase() const { return phase_; }
  int64_t step() const { return state_.step; }
  const prompts::PromptModel& model() const { return model_; }

  // One optimizer step on the next batch, alone. Phase kStep only.
  absl::Status Step() { return StepSlice(0); }
  // One slice (see BeginSlice) alone: forward and backward, and the
  // optimizer step when it was the step's last slice. Phase kStep only.
  absl::Status StepSlice(int max_rows, int max_tokens = 0);

  // The rows of the next batch (all of them), their prompt computed once
  // with this job's dropout draw. Phase kStep only; clears the job's
  // gradients. Same as BeginSlice(0) when no step is in progress.
  absl::StatusOr<std::vector<prompts::MixedRow>> BeginStep() { return BeginSlice(0); }
  // The rows of the next slice: the step's next rows, at most `max_rows`
  // of them (0 = no limit) and, beyond the first, only while their text
  // tokens sum to at most `max_tokens` (0 = no limit). Starts the next step
  // (its batch, its prompt draw, cleared gradients) when none is in
  // progress. Phase kStep only.
  absl::StatusOr<std::vector<prompts::MixedRow>> BeginSlice(int max_rows,
                                                           int max_tokens = 0);
  // The loss to backpropagate from the logits of the rows BeginSlice (or
  // BeginStep) returned, in order: this slice's part of the batch's mean
  // task loss (the slices' losses sum to it), plus the prompt penalty on the
  // step's first slice.
  absl::StatusOr<at::Tensor> StepLoss(const std::vector<at::Tensor>& row_logits);
  // After the slice's backward. On the step's last slice: the prompt's
  // gradient into its parameters, clipping, the scheduled learning rate and
  // the optimizer step. `seconds` is the slice's share of training time.
  absl::Status EndStep(double seconds);
  // True between a step's first and last slice.
  bool mid_step() const { return step_open_; }
  // Rows of the pending (or last) step.
  int64_t batch_rows() const { return static_cast<int64_t>(pending_indices_.size()); }
  // Rows of the pending (or last) slice.
  int64_t slice_rows() const { return slice_end_ - slice_begin_; }

  // Phase kEvaluate: predicts the next validation batch of at most
  // `max_rows` rows (0 = options.eval_batch_size; the first call fixes the
  // batch size for the epoch). True once the whole validation set is done,
  // so that a caller sharing the device can serve between batches.
  absl::StatusOr<bool> EvaluateSome(int max_rows);
  // Validation at the end of an epoch (what EvaluateSome left, then the
  // scores): best-epoch tracking, early stopping. Phase kEvaluate only.
  absl::StatusOr<EpochReport> EndEpoch();

  // Stops the run before its next step (phase becomes kDone).
  void Cancel();

  // The complete state (parameters, optimizer, RNG, epoch/step, best so
  // far) as bytes, at an epoch boundary; RestoreCheckpoint continues from it
  // exactly. Restore only right after Create.
  absl::StatusOr<std::string> CheckpointBytes() const;
  absl::Status RestoreCheckpoint(const std::string& bytes);

  // Puts the best epoch's parameters into the model and summarizes the run.
  // Call once, in phase kDone.
  absl::StatusOr<TrainResult> Finish();

  // The evaluator's metrics of the best epoch (empty object before one).
  const nlohmann::json& best_metrics() const { return state_.best_metrics; }

 private:
  struct State {
    int epoch = 0;  // epochs completed
    int64_t step = 0;
    int best_epoch = 0;
    double best_metric = -1;
    int epochs_without_improvement = 0;
    std::vector<at::Tensor> best_parameters;
    std::vector<EpochReport> reports;
    nlohmann::json best_metrics = nlohmann::json::object();
  };

  // One step's batch: rows `indices` of tasks_[task]'s training set.
  struct PlannedBatch {
    size_t task = 0;
    std::vector<size_t> indices;
  };

  TrainingJob(const backbone::Backbone& backbone, prompts::PromptModel& model,
              const datasets::Dataset& train, const datasets::Dataset& valid,
              const TrainOptions& options);
  // Starts the next epoch or ends the run.
  void StartEpochOrFinish();
  // Creates eval_run_ for this epoch's validation (batches of at most
  // `max_rows`, 0 = eval_batch_size) unless it exists.
  absl::Status BeginEvaluation(int max_rows);

  const backbone::Backbone& backbone_;
  prompts::PromptModel& model_;
  const datasets::Dataset& train_;
  const datasets::Dataset& valid_;
  const TrainOptions options_;
  std::vector<JobTask> tasks_;  // [0] = the main model and `train_`
  std::vector<at::Tensor> parameters_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<double> group_lr_scales_;  // per optimizer param group
  at::Generator rng_;
  int64_t total_steps_ = 0;

  State state_;
  Phase phase_ = Phase::kStep;
  bool cancelled_ = false;
  bool early_stopped_ = false;
  // The current epoch.
  std::vector<PlannedBatch> batches_;
  std::unique_ptr<EvaluationRun> eval_run_;  // phase kEvaluate, once begun
  size_t next_batch_ = 0;
  // Adds the last step's loss (last_loss_) to the epoch's mean;
  // INTERNAL when it is not finite (training diverged).
  absl::Status CollectLastLoss();
  double loss_sum_ = 0;
  int64_t loss_count_ = 0, epoch_examples_ = 0;
  double epoch_seconds_ = 0;
  // The pending step: its batch, rows and prompt (`prompt_` carries the
  // graph from the prompt's parameters, `prompt_leaf_` is what the rows
  // read; its gradient accumulates over the slices), and the pending slice
  // [slice_begin_, slice_end_) of its rows.
  std::vector<size_t> pending_indices_;
  size_t pending_task_ = 0;
  TaskBatch pending_;
  std::vector<prompts::MixedRow> pending_rows_;
  at::Tensor prompt_, prompt_leaf_;
  bool step_open_ = false;
  int64_t slice_begin_ = 0, slice_end_ = 0;
  double loss_denominator_ = 1;  // rows, or tagging's scored tokens
  at::Tensor pending_loss_;      // the step's mean task loss so far (device)
  // The last step's loss on its way to the host (device::PendingHostCopy):
  // read and checked at the next EndStep or EndEpoch, so that no step waits
  // for its own loss before launching its optimizer update.
  device::PendingHostCopy last_loss_;
  int64_t last_loss_step_ = 0;
  double pending_seconds_ = 0;
  // Over the whole run (this process).
  double train_seconds_ = 0;
  int64_t trained_examples_ = 0;
};

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_TRAINING_JOB_H_
