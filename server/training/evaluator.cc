#include "server/training/evaluator.h"

#include <algorithm>
#include <numeric>
#include <string>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/training/bio.h"
#include "server/training/metrics.h"
#include "server/training/task_batch.h"

namespace ptune::training {

absl::StatusOr<Evaluation> Evaluate(const backbone::Backbone& backbone,
                                    const prompts::PromptModel& model,
                                    const datasets::Dataset& data,
                                    int batch_size, int max_tokens) {
  return Evaluate(backbone, std::vector<const prompts::PromptModel*>{&model},
                  data, batch_size, max_tokens);
}

absl::StatusOr<std::unique_ptr<EvaluationRun>> EvaluationRun::Start(
    const backbone::Backbone& backbone,
    std::vector<const prompts::PromptModel*> ensemble,
    const datasets::Dataset& data, int batch_size, int max_tokens) {
  if (data.size() == 0) return absl::InvalidArgumentError("empty dataset");
  if (ensemble.empty()) return absl::InvalidArgumentError("no prompt to evaluate");
  if (batch_size < 1) return absl::InvalidArgumentError("batch_size must be >= 1");
  const bool tagging = data.task == datasets::Task::kTag;
  // The shortest text budget of the members, so every member sees the same
  // tokens.
  const prompts::PromptModel* budget = ensemble.front();
  for (const prompts::PromptModel* member : ensemble) {
    if ((member->task() == datasets::Task::kTag) != tagging) {
      return absl::InvalidArgumentError("dataset task differs from the prompt's task");
    }
    if (member->labels() != ensemble.front()->labels()) {
      return absl::InvalidArgumentError(
          "the prompts of an ensemble must share one label set");
    }
    if (member->MaxTextTokens(backbone) < budget->MaxTextTokens(backbone)) budget = member;
  }
  std::unique_ptr<EvaluationRun> run(new EvaluationRun(backbone, data));
  run->ensemble_ = std::move(ensemble);
  run->budget_ = budget;
  run->max_tokens_ = max_tokens;
  run->eval_.predicted_labels.assign(data.size(), -1);
  run->eval_.predicted_entities.resize(tagging ? data.size() : 0);
  std::vector<size_t> all(data.size());
  std::iota(all.begin(), all.end(), 0);
  run->batches_ = LengthSortedBatches(data, std::move(all), batch_size);
  return run;
}

absl::Status EvaluationRun::Next() {
  if (done()) return absl::FailedPreconditionError("the evaluation is complete");
  const std::vector<size_t>& indices = batches_[next_++];
  const bool tagging = data_.task == datasets::Task::kTag;
  const prompts::PromptModel& model = *budget_;
  c10::InferenceMode inference;
  ASSIGN_OR_RETURN(TaskBatch batch,
                   MakeTaskBatch(backbone_, model, data_, indices, max_tokens_));
  at::Tensor probabilities;
  for (const prompts::PromptModel* member : ensemble_) {
    ASSIGN_OR_RETURN(at::Tensor logits,
                     member->Logits(backbone_, batch.tokens, /*training=*/false));
    RETURN_IF_ERROR(common::TorchCall("ensemble", [&] {
      const at::Tensor p = logits.softmax(-1);
      probabilities = probabilities.defined() ? probabilities + p : p;
    }));
  }
  if (!tagging) {
    ASSIGN_OR_RETURN(const at::Tensor predicted,
                     common::TorchCall("argmax", [&] {
                       return probabilities.argmax(-1).to(at::kCPU).contiguous();
                     }));
    const int64_t* p = predicted.data_ptr<int64_t>();
    for (size_t r = 0; r < indices.size(); ++r) {
      eval_.predicted_labels[indices[r]] = static_cast<int>(p[r]);
    }
    return absl::OkStatus();
  }
  // Tagging: the best BIO-valid tag sequence over each word's first
  // sub-word (constrained Viterbi on log-probabilities).
  ASSIGN_OR_RETURN(const at::Tensor log_probs,
                   common::TorchCall("log-probabilities", [&] {
                     return (probabilities / static_cast<double>(ensemble_.size()))
                         .clamp_min(1e-12).log().to(at::kCPU, at::kFloat).contiguous();
                   }));
  const int64_t t = log_probs.size(1), k = log_probs.size(2);
  const float* lp = log_probs.data_ptr<float>();
  for (size_t r = 0; r < indices.size(); ++r) {
    const datasets::TaggingExample& ex = data_.tagging[indices[r]];
    std::vector<size_t> words_with_token;
    std::vector<float> scores;
    for (size_t w = 0; w < ex.words.size(); ++w) {
      const int32_t token = batch.word_tokens[r][w];
      if (token < 0) continue;
      words_with_token.push_back(w);
      const float* row = lp + (static_cast<int64_t>(r) * t + token) * k;
      scores.insert(scores.end(), row, row + k);
    }
    const std::vector<int> path = ConstrainedBioDecode(
        scores, static_cast<int>(words_with_token.size()), model.labels());
    std::vector<std::string> tags(ex.words.size(), "O");
    for (size_t i = 0; i < path.size(); ++i) {
      tags[words_with_token[i]] = model.labels()[path[i]];
    }
    eval_.predicted_entities[indices[r]] = TagsToSpans(ex.words, tags);
  }
  return absl::OkStatus();
}

absl::StatusOr<Evaluation> EvaluationRun::Finish() {
  if (!done()) return absl::FailedPreconditionError("the evaluation has batches left");
  const prompts::PromptModel& model = *budget_;
  Evaluation eval = std::move(eval_);
  eval.labels = model.labels();
  if (data_.task != datasets::Task::kTag) {
    std::vector<int> gold;
    for (const auto& ex : data_.classification) {
      const auto it = std::find(model.labels().begin(), model.labels().end(), ex.label);
      gold.push_back(static_cast<int>(it - model.labels().begin()));
    }
    eval.classification = ScoreClassification(gold, eval.predicted_labels,
                                               static_cast<int>(model.labels().size()));
    eval.metrics = {{"accuracy", eval.classification.accuracy},
                    {"macro_f1", eval.classification.macro_f1}};
    eval.primary = eval.classification.accuracy;
    return eval;
  }
  std::vector<std::vector<datasets::Span>> gold;
  for (const auto& ex : data_.tagging) gold.push_back(ex.entities);
  eval.entities = ScoreSpans(gold, eval.predicted_entities);
  const EntityScores& scores = eval.entities;
  nlohmann::json per_type = nlohmann::json::object();
  for (const auto& [type, s] : scores.per_type) {
    per_type[type] = {{"precision", s.precision}, {"recall", s.recall},
                      {"f1", s.f1}, {"support", s.support}};
  }
  eval.metrics = {{"precision", scores.precision},
                  {"recall", scores.recall},
                  {"f1", scores.f1},
                  {"per_type", per_type}};
  eval.primary = scores.f1;
  return eval;
}

absl::Status CheckEvaluationLabels(const prompts::PromptModel& model,
                                   const datasets::Dataset& data) {
  if (data.task != model.task()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the data is ", datasets::TaskName(data.task), " data; the prompt is a ",
        datasets::TaskName(model.task()), " prompt"));
  }
  const std::vector<std::string>& labels = model.labels();
  if (data.task == datasets::Task::kClassify) {
    for (size_t i = 0; i < data.classification.size(); ++i) {
      const std::string& label = data.classification[i].label;
      if (std::find(labels.begin(), labels.end(), label) == labels.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "example ", i, " has label '", label, "', which is not one of the prompt's labels [",
            absl::StrJoin(labels, ","), "]"));
      }
    }
    return absl::OkStatus();
  }
  for (size_t i = 0; i < data.tagging.size(); ++i) {
    for (const datasets::Span& span : data.tagging[i].entities) {
      if (std::find(labels.begin(), labels.end(), "B-" + span.type) == labels.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "example ", i, " has an entity of type '", span.type,
            "', which the prompt does not tag (its tags: [", absl::StrJoin(labels, ","), "])"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Evaluation> Evaluate(
    const backbone::Backbone& backbone,
    const std::vector<const prompts::PromptModel*>& ensemble,
    const datasets::Dataset& data, int batch_size, int max_tokens) {
  ASSIGN_OR_RETURN(std::unique_ptr<EvaluationRun> run,
                   EvaluationRun::Start(backbone, ensemble, data, batch_size, max_tokens));
  while (!run->done()) RETURN_IF_ERROR(run->Next());
  return run->Finish();
}

}  // namespace ptune::training
