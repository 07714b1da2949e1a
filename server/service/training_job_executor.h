// TrainingJobExecutor: runs one TrainPrompt job for the JobRunner. It reads
// the job's request (a TrainPromptRequest stored as JSON, with its data
// already in the store as datasets), trains on the engine's executor
// (interleaved with serving), reports progress and epoch checkpoints to the
// job context, and returns the trained prompt's artifact for the store.
// Prompt search: with length / template / verbalizer candidates, each
// candidate trains for options.search_epochs, the best on the validation
// set continues to options.epochs, and every candidate's figure is stored
// under "search" (Job.candidates). Auxiliary tasks
// (TrainPromptRequest.auxiliary_tasks) train the same prompt alongside the
// main task (multi-task pre-training, engine::AuxiliaryTraining). With test
// data, the kept prompt is scored on it (Engine::EvaluateModels) and the
// figures are stored with the version's metrics under "test".
//
// Thread-safety: thread-safe (one job per Run call). Ownership: borrows the
// store and the engine, which must outlive it.
#ifndef PTUNE_SERVER_SERVICE_TRAINING_JOB_EXECUTOR_H_
#define PTUNE_SERVER_SERVICE_TRAINING_JOB_EXECUTOR_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "ptune/v1/ptune.pb.h"
#include "server/backbone/backbone.h"
#include "server/engine/engine.h"
#include "server/jobs/job_executor.h"
#include "server/store/store.h"

namespace ptune::service {

class TrainingJobExecutor : public jobs::JobExecutor {
 public:
  // `max_labels` caps the head's classes (RequestLabels). (Training
  // examples are counted by the server from the engine's stats.)
  TrainingJobExecutor(store::Store* store, engine::Engine* engine,
                      std::shared_ptr<const backbone::Backbone> backbone,
                      int max_labels = 256)
      : store_(store), engine_(engine), backbone_(std::move(backbone)),
        max_labels_(max_labels) {}

  absl::StatusOr<jobs::JobOutcome> Run(const store::Job& job,
                                       jobs::JobContext& ctx) override;

 private:
  // Scores `model` on `data` on the engine's executor; blocks until done.
  absl::StatusOr<training::Evaluation> Evaluate(const prompts::PromptModel& model,
                                                datasets::Dataset data);

  store::Store* const store_;
  engine::Engine* const engine_;
  const std::shared_ptr<const backbone::Backbone> backbone_;
  const int max_labels_;
};

// RESOURCE_EXHAUSTED when storing `bytes` more would exceed the tenant's
// stored-bytes quota (datasets + prompt artifacts).
absl::Status CheckStoredBytes(store::Store& store, const std::string& tenant,
                              int64_t bytes);

// Labels of a training request: classification labels (declared, or those
// of the training data), or the BIO tag set of the entity types.
// INVALID_ARGUMENT when the training or validation data (or `test`,
// optional, checked like `valid`) uses a label or type that is not declared
// (or, without declared labels, not in the training data), when `declared`
// has duplicates, or when the head's label set fails
// datasets::ValidateLabelSet (more than `max_labels` classes, a tag set
// without entity types, ...): the same check whether the labels were
// declared or derived from the data.
absl::StatusOr<std::vector<std::string>> RequestLabels(
    datasets::Task task, const std::vector<std::string>& declared,
    const datasets::Dataset& train, const datasets::Dataset& valid, int max_labels,
    const datasets::Dataset* test = nullptr);

// An auxiliary task of a training request: its stored dataset (of the
// task the dataset was uploaded for) and its head's labels (RequestLabels).
// `field` names the request's entry in messages (e.g. "auxiliary_tasks[0]").
// NOT_FOUND for a dataset the tenant does not have; INVALID_ARGUMENT for a
// missing id or a bad label set.
absl::StatusOr<engine::AuxiliaryTraining> LoadAuxiliaryTask(
    store::Store& store, const std::string& tenant, const v1::AuxiliaryTask& task,
    int max_labels, absl::string_view field);

// The most auxiliary tasks one request may carry.
inline constexpr int kMaxAuxiliaryTasks = 8;

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_TRAINING_JOB_EXECUTOR_H_
