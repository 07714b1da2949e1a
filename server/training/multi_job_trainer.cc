#include "server/training/multi_job_trainer.h"

#include <chrono>
#include <iterator>
#include <memory>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/prompts/mixed_batch.h"
#include "server/training/task_batch.h"

namespace ptune::training {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

std::vector<absl::Status> MultiJobTrainer::StepBatched(
    const std::vector<TrainingJob*>& jobs, int max_rows_per_job,
    int max_tokens_per_job) {
  std::vector<absl::Status> statuses(jobs.size());
  const auto start = Clock::now();
  // Rows of every job that could start its step; `begin[j]` = its first row.
  std::vector<prompts::MixedRow> rows;
  std::vector<size_t> begin(jobs.size(), 0), count(jobs.size(), 0);
  for (size_t j = 0; j < jobs.size(); ++j) {
    absl::StatusOr<std::vector<prompts::MixedRow>> job_rows =
        jobs[j]->BeginSlice(max_rows_per_job, max_tokens_per_job);
    if (!job_rows.ok()) {
      statuses[j] = job_rows.status();
      continue;
    }
    begin[j] = rows.size();
    count[j] = job_rows->size();
    std::move(job_rows->begin(), job_rows->end(), std::back_inserter(rows));
  }
  if (rows.empty()) return statuses;
  const auto fail_all = [&](const absl::Status& status) {
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (statuses[j].ok()) statuses[j] = status;
    }
    return statuses;
  };
  absl::StatusOr<prompts::MixedBatch> batch =
      prompts::MakeMixedBatch(backbone_, std::move(rows), /*training=*/true);
  if (!batch.ok()) return fail_all(batch.status());
  absl::StatusOr<std::vector<at::Tensor>> logits =
      prompts::MixedLogits(backbone_, *batch, /*training=*/true);
  if (!logits.ok()) return fail_all(logits.status());
  std::vector<at::Tensor> losses;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!statuses[j].ok()) continue;
    const std::vector<at::Tensor> own(logits->begin() + begin[j],
                                      logits->begin() + begin[j] + count[j]);
    absl::StatusOr<at::Tensor> loss = jobs[j]->StepLoss(own);
    if (!loss.ok()) {
      statuses[j] = loss.status();
      continue;
    }
    losses.push_back(*loss);
  }
  if (losses.empty()) return statuses;
  // Parameters of different jobs are disjoint, so the gradient of the sum is
  // each job's own gradient.
  const absl::Status backward = common::TorchCall("backward", [&] {
    at::Tensor total = losses.front();
    for (size_t i = 1; i < losses.size(); ++i) total = total + losses[i];
    total.backward();
  });
  if (!backward.ok()) return fail_all(backward);
  // The step's time is shared by its jobs in proportion to their rows.
  const double seconds = Since(start);
  const double total_rows = static_cast<double>(batch->rows);
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!statuses[j].ok()) continue;
    statuses[j] = jobs[j]->EndStep(seconds * count[j] / total_rows);
  }
  return statuses;
}

std::vector<absl::Status> MultiJobTrainer::StepInTurns(
    const std::vector<TrainingJob*>& jobs, int max_rows_per_job,
    int max_tokens_per_job) {
  std::vector<absl::Status> statuses;
  statuses.reserve(jobs.size());
  for (TrainingJob* job : jobs) {
    statuses.push_back(job->StepSlice(max_rows_per_job, max_tokens_per_job));
  }
  return statuses;
}

absl::StatusOr<TrainingModeFigures> MeasureTrainingModes(
    const backbone::Backbone& backbone, const std::vector<MeasuredJob>& jobs,
    int steps) {
  if (jobs.empty() || steps < 1) {
    return absl::InvalidArgumentError("need at least one job and one step");
  }
  TrainingModeFigures figures{.jobs = static_cast<int>(jobs.size()), .steps = steps};
  // Two copies of every job (fresh models from the same seeds), one per way.
  struct Way {
    std::vector<std::unique_ptr<prompts::PromptModel>> models;
    std::vector<std::unique_ptr<TrainingJob>> owned;
    std::vector<TrainingJob*> active;
    double seconds = 0;
    int64_t examples = 0;
  };
  Way ways[2];  // [0] batched, [1] in turns
  for (Way& way : ways) {
    for (const MeasuredJob& spec : jobs) {
      TrainOptions options = spec.options;
      options.checkpoint_path.clear();
      ASSIGN_OR_RETURN(auto model,
                       prompts::PromptModel::Create(backbone, spec.train.task,
                                                    ModelLabels(spec.train),
                                                    spec.spec, options.seed));
      ASSIGN_OR_RETURN(auto job, TrainingJob::Create(backbone, *model, spec.train,
                                                     spec.train, options));
      way.active.push_back(job.get());
      way.models.push_back(std::move(model));
      way.owned.push_back(std::move(job));
    }
  }
  // The ways alternate step by step, so that both see the same machine load
  // (shared machines drift by 2x and more within a minute).
  MultiJobTrainer trainer(backbone);
  for (int s = 0; s <= steps; ++s) {  // step 0 warms up, untimed
    for (int w = 0; w < 2; ++w) {
      Way& way = ways[w];
      for (TrainingJob* job : way.active) {
        if (job->phase() != TrainingJob::Phase::kStep) {
          return absl::InvalidArgumentError(absl::StrCat(
              "a job's epoch ended before ", steps,
              " steps; give it more training examples"));
        }
      }
      const auto start = Clock::now();
      const std::vector<absl::Status> statuses =
          w == 0 ? trainer.StepBatched(way.active) : trainer.StepInTurns(way.active);
      const double elapsed = Since(start);
      for (const absl::Status& status : statuses) RETURN_IF_ERROR(status);
      if (s == 0) continue;
      way.seconds += elapsed;
      for (TrainingJob* job : way.active) way.examples += job->batch_rows();
    }
  }
  figures.batched_eps = ways[0].seconds > 0 ? ways[0].examples / ways[0].seconds : 0;
  figures.turns_eps = ways[1].seconds > 0 ? ways[1].examples / ways[1].seconds : 0;
  return figures;
}

}  // namespace ptune::training
