#include "server/service/training_job_executor.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "ptune/v1/ptune.pb.h"
#include "server/auth/quotas.h"
#include "server/common/status_macros.h"
#include "server/datasets/label_set.h"
#include "server/datasets/split.h"
#include "server/jobs/job_progress.h"
#include "server/service/proto_convert.h"
#include "server/training/bio.h"
#include "server/training/prompt_search.h"
#include "server/training/trainer.h"

namespace ptune::service {
namespace {

using nlohmann::json;

// The fraction held out for validation when a request brings none.
constexpr double kHeldOutFraction = 0.1;

// Parses stored dataset `id` as `task`, or as the task it was stored for
// when `task` is unset. `field` names the request field in messages.
absl::StatusOr<datasets::Dataset> LoadDataset(store::Store& store,
                                              const std::string& tenant,
                                              const std::string& id,
                                              std::optional<datasets::Task> task,
                                              absl::string_view field = "") {
  ASSIGN_OR_RETURN(store::Dataset stored, store.GetDataset(tenant, id));
  if (!task.has_value()) {
    ASSIGN_OR_RETURN(task, datasets::TaskFromName(stored.task));
  }
  const std::string source = field.empty() ? absl::StrCat("dataset ", id)
                                           : absl::StrCat(field, " (dataset ", id, ")");
  return datasets::ParseDataset(stored.content, source, *task, StoredFormat(stored.format));
}

// `epochs_before`: epochs of the job's earlier phases (search candidates);
// `total_epochs`: of all its phases.
jobs::JobProgress ToProgress(const training::EpochReport& report,
                             int64_t steps_per_epoch, int epochs_before, int total_epochs,
                             absl::Time started) {
  jobs::JobProgress p;
  p.epoch = report.epoch;
  p.epochs = report.epochs;
  p.step = report.step;
  p.total_steps = steps_per_epoch * report.epochs;
  p.train_loss = report.train_loss;
  p.valid_metric = report.valid_metric;
  p.examples_per_second = report.examples_per_second;
  // Remaining epochs of this phase plus the whole of the later phases, at
  // the pace seen so far (early stopping can only make it shorter).
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - started);
  const double done = epochs_before + report.epoch;
  const double total = total_epochs;
  if (done > 0) p.eta_seconds = elapsed / done * std::max(0.0, total - done);
  return p;
}

}  // namespace

absl::Status CheckStoredBytes(store::Store& store, const std::string& tenant,
                              int64_t bytes) {
  ASSIGN_OR_RETURN(const store::Tenant owner, store.GetTenant(tenant));
  ASSIGN_OR_RETURN(const int64_t stored, store.StoredBytes(tenant));
  return auth::CheckStorageQuota(stored, bytes, owner.quotas.max_stored_bytes);
}

absl::StatusOr<std::vector<std::string>> RequestLabels(
    datasets::Task task, const std::vector<std::string>& declared,
    const datasets::Dataset& train, const datasets::Dataset& valid, int max_labels,
    const datasets::Dataset* test) {
  RETURN_IF_ERROR(datasets::ValidateLabelNames(declared, "labels"));
  std::vector<std::string> names = declared.empty() ? train.labels : declared;
  const datasets::Dataset no_test;
  for (const auto& [data, which] : {std::pair{&train, "training"}, {&valid, "validation"},
                                    {test != nullptr ? test : &no_test, "test"}}) {
    for (const std::string& seen : data->labels) {
      if (std::find(names.begin(), names.end(), seen) == names.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            task == datasets::Task::kTag ? "entity type \"" : "label \"", seen, "\" of the ",
            which, " data is not in labels [", absl::StrJoin(names, ", "), "]"));
      }
    }
  }
  std::vector<std::string> labels =
      task == datasets::Task::kTag ? training::BioLabelSet(names) : names;
  RETURN_IF_ERROR(datasets::ValidateLabelSet(task, labels, max_labels));
  return labels;
}

absl::StatusOr<engine::AuxiliaryTraining> LoadAuxiliaryTask(
    store::Store& store, const std::string& tenant, const v1::AuxiliaryTask& task,
    int max_labels, absl::string_view field) {
  if (task.dataset_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".dataset_id is required"));
  }
  engine::AuxiliaryTraining out;
  ASSIGN_OR_RETURN(out.train, LoadDataset(store, tenant, task.dataset_id(),
                                          /*task=*/std::nullopt, field));
  out.task = out.train.task;
  const std::vector<std::string> declared(task.labels().begin(), task.labels().end());
  absl::StatusOr<std::vector<std::string>> labels =
      RequestLabels(out.task, declared, out.train, datasets::Dataset(), max_labels);
  if (!labels.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", labels.status().message()));
  }
  out.labels = *std::move(labels);
  return out;
}

absl::StatusOr<training::Evaluation> TrainingJobExecutor::Evaluate(
    const prompts::PromptModel& model, datasets::Dataset data) {
  absl::Notification done;
  absl::StatusOr<training::Evaluation> result = absl::UnknownError("unfinished");
  // The engine is done with the (unowned) model when it calls back.
  engine_->EvaluateModels({std::shared_ptr<const prompts::PromptModel>(
                              &model, [](const prompts::PromptModel*) {})},
                          std::move(data), [&](absl::StatusOr<training::Evaluation> scored) {
                            result = std::move(scored);
                            done.Notify();
                          });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<jobs::JobOutcome> TrainingJobExecutor::Run(const store::Job& job,
                                                         jobs::JobContext& ctx) {
  v1::TrainPromptRequest request;
  if (!google::protobuf::util::JsonStringToMessage(job.request_json, &request).ok()) {
    return absl::InternalError(absl::StrCat("job ", job.id, " has a broken request"));
  }
  ASSIGN_OR_RETURN(const datasets::Task task, TaskFromProto(request.task(), "task"));
  ASSIGN_OR_RETURN(prompts::PromptSpec spec, SpecFromProto(request.spec()));
  ASSIGN_OR_RETURN(const std::vector<prompts::PromptSpec> candidates,
                   SearchCandidates(request.spec(), spec));
  ASSIGN_OR_RETURN(training::TrainOptions options, OptionsFromProto(request.options()));
  ASSIGN_OR_RETURN(const int search_epochs, SearchEpochs(request.options(), options.epochs));

  ASSIGN_OR_RETURN(datasets::Dataset train, LoadDataset(*store_, job.tenant_id,
                                                        request.train_dataset_id(), task));
  datasets::Dataset valid;
  if (!request.valid_dataset_id().empty()) {
    ASSIGN_OR_RETURN(valid, LoadDataset(*store_, job.tenant_id,
                                        request.valid_dataset_id(), task));
  } else {
    ASSIGN_OR_RETURN(auto parts,
                     datasets::SplitDataset(train, kHeldOutFraction, options.seed));
    train = std::move(parts.first);
    valid = std::move(parts.second);
  }
  if (request.options().max_tokens() == 0) {
    ASSIGN_OR_RETURN(options.max_tokens, training::DefaultMaxTokens(*backbone_, train));
  }
  const std::vector<std::string> declared(request.labels().begin(),
                                          request.labels().end());
  ASSIGN_OR_RETURN(std::vector<std::string> labels,
                   RequestLabels(task, declared, train, valid, max_labels_));
  std::vector<engine::AuxiliaryTraining> auxiliary;
  size_t auxiliary_examples = 0;
  for (int i = 0; i < request.auxiliary_tasks_size(); ++i) {
    ASSIGN_OR_RETURN(engine::AuxiliaryTraining aux,
                     LoadAuxiliaryTask(*store_, job.tenant_id, request.auxiliary_tasks(i),
                                       max_labels_, absl::StrCat("auxiliary_tasks[", i, "]")));
    auxiliary_examples += aux.train.size();
    auxiliary.push_back(std::move(aux));
  }

  std::shared_ptr<const prompts::PromptModel> init_prompt;
  if (spec.init == prompts::PromptInit::kPrompt) {
    ASSIGN_OR_RETURN(store::PromptVersion source,
                     store_->GetPrompt(job.tenant_id, spec.init_prompt));
    ASSIGN_OR_RETURN(init_prompt,
                     prompts::PromptModel::Deserialize(
                         *backbone_,
                         {std::move(source.artifact_safetensors),
                          std::move(source.artifact_json)},
                         absl::StrCat("prompt ", spec.init_prompt)));
  }

  const size_t train_examples = train.size(), valid_examples = valid.size();
  int64_t steps_per_epoch = training::BatchesPerEpoch(train, options.batch_size);
  for (const engine::AuxiliaryTraining& aux : auxiliary) {
    steps_per_epoch += training::BatchesPerEpoch(aux.train, options.batch_size);
  }
  if (request.options().epochs() == 0) {
    options.epochs =
        training::DefaultSearchJobEpochs(train_examples + auxiliary_examples, search_epochs);
  }
  const absl::Time started = absl::Now();
  training::SearchSchedule schedule(candidates.size(), search_epochs, options.epochs);
  const bool search = schedule.searching();
  const bool continues = schedule.continues();
  const int total_epochs = schedule.total_epochs();
  // One phase: a candidate's search run, the winner's continuation, or the
  // whole run, after `epochs_before` epochs of earlier phases. `checkpoint`
  // (search only) keeps the phase's last epoch-end checkpoint in memory; a
  // single run saves its checkpoints to the job.
  auto run_phase = [&](engine::TrainingRequest trial, int epochs_before,
                       std::string* checkpoint) -> absl::StatusOr<engine::TrainingOutcome> {
    jobs::JobProgress last;
    absl::Status side_error;
    absl::StatusOr<engine::TrainingOutcome> outcome = engine_->Train(
        std::move(trial),
        [&](const training::EpochReport& report) {
          last = ToProgress(report, steps_per_epoch, epochs_before, total_epochs, started);
          absl::Status s = ctx.ReportProgress(last);
          if (!s.ok()) side_error = s;
        },
        [&](std::string bytes) {
          if (checkpoint != nullptr) {
            *checkpoint = std::move(bytes);
            return;
          }
          absl::Status s = ctx.SaveCheckpoint(last, std::move(bytes));
          if (!s.ok()) side_error = s;
        },
        [&ctx] { return ctx.cancelled(); });
    RETURN_IF_ERROR(side_error);
    return outcome;
  };
  auto make_trial = [&](const prompts::PromptSpec& trial_spec, bool take_data) {
    engine::TrainingRequest trial;
    trial.task = task;
    trial.labels = labels;
    trial.spec = trial_spec;
    trial.options = options;
    // The last phase takes the data: one copy of a dataset of up to
    // --max_dataset_bytes is a large share of a job's memory.
    trial.train = take_data ? std::move(train) : train;
    trial.valid = take_data ? std::move(valid) : valid;
    trial.auxiliary = take_data ? std::move(auxiliary) : auxiliary;
    trial.init_prompt = init_prompt;
    return trial;
  };

  std::unique_ptr<prompts::PromptModel> best;
  json best_metrics;
  std::string best_checkpoint;
  json trials = json::array();
  for (size_t i = 0; i < candidates.size(); ++i) {
    engine::TrainingRequest trial =
        make_trial(candidates[i], !continues && i + 1 == candidates.size());
    trial.options.epochs = schedule.trial_epochs();
    trial.options.patience = schedule.trial_patience(options.patience);
    // A checkpoint belongs to the run that wrote it: only a job without a
    // search resumes mid-training; a search restarts its candidates.
    if (!search) trial.resume_checkpoint = job.checkpoint;
    std::string checkpoint;
    ASSIGN_OR_RETURN(engine::TrainingOutcome outcome,
                     run_phase(std::move(trial), schedule.epochs_before_trial(i),
                               search ? &checkpoint : nullptr));
    const double metric = outcome.result.best_valid_metric;
    const prompts::PromptSpec& c = candidates[i];
    trials.push_back({{"length", c.length}, {"template", c.template_text},
                      {"verbalizer", c.verbalizer}, {"valid_metric", metric},
                      {"chosen", false}});
    if (schedule.Record(metric)) {
      best = std::move(outcome.model);
      best_metrics = outcome.metrics;
      best_checkpoint = std::move(checkpoint);
    }
  }
  const size_t best_index = schedule.best();
  if (continues && best != nullptr) {
    // The winner resumes from its last search epoch to options.epochs (its
    // learning-rate schedule is the full run's from that step on).
    engine::TrainingRequest trial = make_trial(candidates[best_index], true);
    trial.resume_checkpoint = std::move(best_checkpoint);
    // A search job that resumes after a crash restarts its candidates, so
    // its checkpoints stay in memory.
    std::string checkpoint;
    ASSIGN_OR_RETURN(engine::TrainingOutcome outcome,
                     run_phase(std::move(trial), schedule.epochs_before_continuation(),
                               &checkpoint));
    best = std::move(outcome.model);
    best_metrics = outcome.metrics;
  }
  if (search) {
    trials[best_index]["chosen"] = true;
    best_metrics["search"] = trials;
  }
  if (best == nullptr) return absl::InternalError("training produced no model");
  if (absl::Status finite = best->CheckFinite(); !finite.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training diverged (", finite.message(),
        "); try a lower learning_rate or a smaller l2"));
  }
  best_metrics["train_examples"] = train_examples;
  best_metrics["valid_examples"] = valid_examples;
  best_metrics["max_tokens"] = best->max_tokens();
  if (request.auxiliary_tasks_size() > 0) {
    best_metrics["auxiliary_examples"] = auxiliary_examples;
  }
  if (!request.test_dataset_id().empty()) {
    ASSIGN_OR_RETURN(datasets::Dataset test, LoadDataset(*store_, job.tenant_id,
                                                         request.test_dataset_id(), task));
    best_metrics["test_examples"] = test.size();
    ASSIGN_OR_RETURN(training::Evaluation scored, Evaluate(*best, std::move(test)));
    best_metrics["test"] = scored.metrics;
  }

  ASSIGN_OR_RETURN(prompts::PromptArtifact artifact,
                   best->Serialize({{"job_id", job.id}, {"metrics", best_metrics}}));
  // The version counts against the stored-bytes quota like any write (it
  // was unknown at submit; checked here, before the store takes it).
  RETURN_IF_ERROR(CheckStoredBytes(
      *store_, job.tenant_id,
      static_cast<int64_t>(artifact.tensors.size() + artifact.metadata_json.size())));
  jobs::JobOutcome out;
  out.metrics_json = best_metrics.dump();
  out.labels = best->labels();
  out.spec_json = prompts::PromptSpecToJson(best->spec()).dump();
  out.artifact_safetensors = std::move(artifact.tensors);
  out.artifact_json = std::move(artifact.metadata_json);
  return out;
}

}  // namespace ptune::service
