// Runs a prompt over a labeled dataset and scores it: accuracy and macro-F1
// for classification; entity-level micro P/R/F1 (seqeval definition) and
// per-type F1 for tagging. Inference only (no gradients).
#ifndef PTUNE_SERVER_TRAINING_EVALUATOR_H_
#define PTUNE_SERVER_TRAINING_EVALUATOR_H_

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_model.h"
#include "server/training/metrics.h"

namespace ptune::training {

struct Evaluation {
  // classify: {"accuracy","macro_f1"}; tag: {"precision","recall","f1","per_type"}
  nlohmann::json metrics;
  double primary = 0;  // accuracy (classify) or f1 (tag): what training selects on
  std::vector<int> predicted_labels;                        // classify
  std::vector<std::vector<datasets::Span>> predicted_entities;  // tag
  // The prompt's labels (classify) or BIO tags (tag), in head order.
  std::vector<std::string> labels;
  // The full report behind `metrics`: classify (per label in `labels`
  // order) or tag.
  ClassificationScores classification;
  EntityScores entities;
};

// INVALID_ARGUMENT naming the first example whose gold label (classify) or
// entity type (tag) the prompt cannot predict, or when the data's task is
// not the prompt's. Evaluate itself scores such examples as errors; a
// service checks first, since a label the prompt never had is a mistake in
// the data, not a prediction to score.
absl::Status CheckEvaluationLabels(const prompts::PromptModel& model,
                                   const datasets::Dataset& data);

absl::StatusOr<Evaluation> Evaluate(const backbone::Backbone& backbone,
                                    const prompts::PromptModel& model,
                                    const datasets::Dataset& data,
                                    int batch_size, int max_tokens);

// A prompt ensemble ("prompt mixing"): several prompts of one task and label
// set whose class (or per-token tag) probabilities are averaged.
absl::StatusOr<Evaluation> Evaluate(
    const backbone::Backbone& backbone,
    const std::vector<const prompts::PromptModel*>& ensemble,
    const datasets::Dataset& data, int batch_size, int max_tokens);

// An evaluation one batch at a time, so that a caller sharing the device
// (the engine's executor) can serve between batches; Evaluate runs one to
// the end. The backbone, models and data must outlive the run.
class EvaluationRun {
 public:
  // Same checks and batches as Evaluate (length-sorted, `batch_size` rows).
  static absl::StatusOr<std::unique_ptr<EvaluationRun>> Start(
      const backbone::Backbone& backbone,
      std::vector<const prompts::PromptModel*> ensemble,
      const datasets::Dataset& data, int batch_size, int max_tokens);

  bool done() const { return next_ >= batches_.size(); }
  // Predicts the next batch (inference only).
  absl::Status Next();
  // Scores the predictions once done(); call once.
  absl::StatusOr<Evaluation> Finish();

 private:
  EvaluationRun(const backbone::Backbone& backbone, const datasets::Dataset& data)
      : backbone_(backbone), data_(data) {}

  const backbone::Backbone& backbone_;
  const datasets::Dataset& data_;
  std::vector<const prompts::PromptModel*> ensemble_;
  const prompts::PromptModel* budget_ = nullptr;  // the shortest text budget
  int max_tokens_ = 0;
  std::vector<std::vector<size_t>> batches_;
  size_t next_ = 0;
  Evaluation eval_;  // predictions so far
};

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_EVALUATOR_H_
