#include "server/service/training_job_executor.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "ptune/v1/ptune.pb.h"
#include "server/auth/quotas.h"
#include "server/common/status_macros.h"
#include "server/datasets/label_set.h"
#include "server/datasets/split.h"
#include "server/jobs/job_progress.h"
#include "server/service/proto_convert.h"
#include "server/training/bio.h"

namespace ptune::service {
namespace {

using nlohmann::json;

// The fraction held out for validation when a request brings none.
constexpr double kHeldOutFraction = 0.1;

absl::StatusOr<datasets::Dataset> LoadDataset(store::Store& store,
                                              const std::string& tenant,
                                              const std::string& id,
                                              datasets::Task task) {
  ASSIGN_OR_RETURN(store::Dataset stored, store.GetDataset(tenant, id));
  return datasets::ParseDataset(stored.content, absl::StrCat("dataset ", id), task,
                                StoredFormat(stored.format));
}

jobs::JobProgress ToProgress(const training::EpochReport& report,
                             int64_t steps_per_epoch, int trial, int trials,
                             absl::Time started) {
  jobs::JobProgress p;
  p.epoch = report.epoch;
  p.epochs = report.epochs;
  p.step = report.step;
  p.total_steps = steps_per_epoch * report.epochs;
  p.train_loss = report.train_loss;
  p.valid_metric = report.valid_metric;
  p.examples_per_second = report.examples_per_second;
  // Remaining epochs of this trial plus the whole of the later trials, at
  // the pace seen so far (early stopping can only make it shorter).
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - started);
  const double done = (trial * report.epochs + report.epoch);
  const double total = static_cast<double>(trials) * report.epochs;
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
    const datasets::Dataset& train, const datasets::Dataset& valid, int max_labels) {
  RETURN_IF_ERROR(datasets::ValidateLabelNames(declared, "labels"));
  std::vector<std::string> names = declared.empty() ? train.labels : declared;
  for (const auto& [data, which] : {std::pair{&train, "training"}, {&valid, "validation"}}) {
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

absl::StatusOr<jobs::JobOutcome> TrainingJobExecutor::Run(const store::Job& job,
                                                         jobs::JobContext& ctx) {
  v1::TrainPromptRequest request;
  if (!google::protobuf::util::JsonStringToMessage(job.request_json, &request).ok()) {
    return absl::InternalError(absl::StrCat("job ", job.id, " has a broken request"));
  }
  ASSIGN_OR_RETURN(const datasets::Task task, TaskFromProto(request.task(), "task"));
  ASSIGN_OR_RETURN(prompts::PromptSpec spec, SpecFromProto(request.spec()));
  ASSIGN_OR_RETURN(std::vector<int> lengths, LengthCandidates(request.spec()));
  if (lengths.empty()) lengths.push_back(spec.length);
  ASSIGN_OR_RETURN(const training::TrainOptions options,
                   OptionsFromProto(request.options()));

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
  const std::vector<std::string> declared(request.labels().begin(),
                                          request.labels().end());
  ASSIGN_OR_RETURN(std::vector<std::string> labels,
                   RequestLabels(task, declared, train, valid, max_labels_));

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
  const int64_t steps_per_epoch =
      (static_cast<int64_t>(train.size()) + options.batch_size - 1) / options.batch_size;
  const absl::Time started = absl::Now();
  std::unique_ptr<prompts::PromptModel> best;
  json best_metrics;
  double best_metric = -1;
  json trials = json::array();
  for (size_t i = 0; i < lengths.size(); ++i) {
    engine::TrainingRequest trial;
    trial.task = task;
    trial.labels = labels;
    trial.spec = spec;
    trial.spec.length = lengths[i];
    trial.options = options;
    // The last (usually only) trial takes the data: one copy of a dataset
    // of up to --max_dataset_bytes is a large share of a job's memory.
    const bool last_trial = i + 1 == lengths.size();
    trial.train = last_trial ? std::move(train) : train;
    trial.valid = last_trial ? std::move(valid) : valid;
    trial.init_prompt = init_prompt;
    // A checkpoint belongs to the trial that wrote it: only a single-length
    // job resumes mid-training; a length search restarts its trials.
    if (lengths.size() == 1) trial.resume_checkpoint = job.checkpoint;
    const int trial_index = static_cast<int>(i);
    const int trial_count = static_cast<int>(lengths.size());
    jobs::JobProgress last;
    absl::Status side_error;
    ASSIGN_OR_RETURN(
        engine::TrainingOutcome outcome,
        engine_->Train(
            std::move(trial),
            [&](const training::EpochReport& report) {
              last = ToProgress(report, steps_per_epoch, trial_index, trial_count,
                                started);
              if (metrics_ != nullptr) {
                metrics_->AddTrainingExamples(static_cast<uint64_t>(
                    std::llround(report.examples_per_second * report.seconds)));
              }
              absl::Status s = ctx.ReportProgress(last);
              if (!s.ok()) side_error = s;
            },
            [&](std::string bytes) {
              if (trial_count > 1) return;
              absl::Status s = ctx.SaveCheckpoint(last, std::move(bytes));
              if (!s.ok()) side_error = s;
            },
            [&ctx] { return ctx.cancelled(); }));
    RETURN_IF_ERROR(side_error);
    const double metric = outcome.result.best_valid_metric;
    trials.push_back({{"length", lengths[i]}, {"valid_metric", metric}});
    if (metric > best_metric) {  // ties keep the shorter, earlier prompt
      best_metric = metric;
      best = std::move(outcome.model);
      best_metrics = outcome.metrics;
    }
  }
  if (best == nullptr) return absl::InternalError("training produced no model");
  if (absl::Status finite = best->CheckFinite(); !finite.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training diverged (", finite.message(),
        "); try a lower learning_rate or a smaller l2"));
  }
  if (lengths.size() > 1) best_metrics["length_trials"] = trials;
  best_metrics["train_examples"] = train_examples;
  best_metrics["valid_examples"] = valid_examples;

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
