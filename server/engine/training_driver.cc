#include "server/engine/training_driver.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <torch/torch.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/training/multi_job_trainer.h"
#include "server/training/task_batch.h"
#include "server/training/training_job.h"

namespace ptune::engine {
namespace {

using Clock = std::chrono::steady_clock;
using training::TrainingJob;

// One Run call: the request (which owns the datasets the job reads), the
// model being trained, and how the caller hears about it.
struct Job {
  TrainingRequest request;
  std::unique_ptr<prompts::PromptModel> model;
  std::vector<std::unique_ptr<prompts::PromptModel>> auxiliary_models;
  std::unique_ptr<TrainingJob> job;
  std::function<void(const training::EpochReport&)> progress;
  std::function<void(std::string)> checkpoint;
  std::function<bool()> cancelled;
  absl::Notification done;
  absl::StatusOr<TrainingOutcome> outcome = absl::UnknownError("unfinished");
};

// One Evaluate call: the request (which owns the data the run reads), its
// run, and the caller's callback.
struct PendingEvaluation {
  EvaluationRequest request;
  std::unique_ptr<training::EvaluationRun> run;
  EvaluationDone done;
};

// Examples/s of one way of stepping, measured per number of jobs stepped.
struct Probe {
  int steps = 0;
  int64_t examples = 0;
  double seconds = 0;
  double eps() const { return seconds > 0 ? examples / seconds : 0; }
};

// A model for `request`: fresh, or starting from `init_prompt`'s vectors.
absl::StatusOr<std::unique_ptr<prompts::PromptModel>> MakeModel(
    const backbone::Backbone& backbone, const TrainingRequest& request,
    const std::vector<std::string>& labels) {
  const auto& source = request.init_prompt;
  if (source == nullptr || request.spec.init != prompts::PromptInit::kPrompt) {
    return prompts::PromptModel::Create(backbone, request.task, labels,
                                        request.spec, request.options.seed);
  }
  if (source->spec().kind != request.spec.kind ||
      source->spec().length != request.spec.length) {
    return absl::InvalidArgumentError(
        "init prompt differs in kind or length from the spec");
  }
  if (request.spec.reparam != prompts::Reparam::kNone) {
    return absl::InvalidArgumentError(
        "init prompt cannot be combined with reparam mlp");
  }
  prompts::PromptSpec spec = request.spec;
  spec.init = prompts::PromptInit::kRandom;  // overwritten just below
  spec.init_prompt.clear();
  ASSIGN_OR_RETURN(auto model, prompts::PromptModel::Create(
                                   backbone, request.task, labels, spec,
                                   request.options.seed));
  RETURN_IF_ERROR(common::TorchCall("copying the init prompt", [&] {
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : model->NamedParameters()) {
      if (name == "prompt") tensor.copy_(source->PromptTensor());
      // The case table transfers too when both prompts have one (as
      // PromptModel::Create's init from a folder does).
      if (name == "case_embeddings" && source->spec().case_embeddings) {
        tensor.copy_(source->CaseEmbeddings());
      }
    }
  }));
  return model;
}

// The spec of an auxiliary task's model: the main spec, read by a head of
// its own that starts at random (a verbalizer names the main task's labels;
// the init applies to the shared prompt, which is the main model's).
prompts::PromptSpec AuxiliarySpec(prompts::PromptSpec spec, datasets::Task task) {
  spec.init = prompts::PromptInit::kRandom;
  spec.init_prompt.clear();
  spec.init_text.clear();
  spec.verbalizer.clear();
  spec.reparam = prompts::Reparam::kNone;
  if (task == datasets::Task::kTag) {
    spec.template_text.clear();
    spec.pooling = prompts::HeadPooling::kCls;
  } else if (spec.pooling == prompts::HeadPooling::kMask && spec.template_text.empty()) {
    spec.pooling = prompts::HeadPooling::kCls;
  }
  return spec;
}

// The models of `request.auxiliary`, and the tasks a TrainingJob gets.
absl::StatusOr<std::vector<training::JobTask>> MakeAuxiliaryTasks(
    const backbone::Backbone& backbone, const TrainingRequest& request,
    std::vector<std::unique_ptr<prompts::PromptModel>>* models) {
  std::vector<training::JobTask> tasks;
  for (size_t i = 0; i < request.auxiliary.size(); ++i) {
    const AuxiliaryTraining& aux = request.auxiliary[i];
    if (aux.train.task != aux.task) {
      return absl::InvalidArgumentError(absl::StrCat(
          "auxiliary task ", i + 1, ": its dataset's task differs from its task"));
    }
    absl::StatusOr<std::unique_ptr<prompts::PromptModel>> model =
        prompts::PromptModel::Create(
            backbone, aux.task, aux.labels.empty() ? training::ModelLabels(aux.train) : aux.labels,
            AuxiliarySpec(request.spec, aux.task), request.options.seed + i + 1);
    if (!model.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("auxiliary task ", i + 1, ": ", model.status().message()));
    }
    models->push_back(*std::move(model));
    tasks.push_back({models->back().get(), &aux.train});
  }
  return tasks;
}

}  // namespace

class TrainingDriver::Impl {
 public:
  Impl(std::shared_ptr<const backbone::Backbone> backbone,
       TrainingDriverOptions options)
      : backbone_(std::move(backbone)), options_(options) {}

  absl::StatusOr<TrainingOutcome> Run(
      TrainingRequest request,
      std::function<void(const training::EpochReport&)> progress,
      std::function<void(std::string)> checkpoint,
      std::function<bool()> cancelled) {
    auto job = std::make_shared<Job>();
    job->request = std::move(request);
    job->progress = std::move(progress);
    job->checkpoint = std::move(checkpoint);
    job->cancelled = std::move(cancelled);
    TrainingRequest& r = job->request;
    RETURN_IF_ERROR(CheckTrainableDtype(backbone_->dtype()));
    if (r.train.task != r.task || r.valid.task != r.task) {
      return absl::InvalidArgumentError("the datasets' task differs from the request's");
    }
    const std::vector<std::string> labels =
        r.labels.empty() ? training::ModelLabels(r.train) : r.labels;
    ASSIGN_OR_RETURN(job->model, MakeModel(*backbone_, r, labels));
    r.options.checkpoint_path.clear();  // checkpoints go to the callback
    ASSIGN_OR_RETURN(std::vector<training::JobTask> auxiliary,
                     MakeAuxiliaryTasks(*backbone_, r, &job->auxiliary_models));
    ASSIGN_OR_RETURN(job->job, TrainingJob::Create(*backbone_, *job->model, r.train,
                                                   r.valid, r.options, std::move(auxiliary)));
    if (!r.resume_checkpoint.empty()) {
      const absl::Status restored = job->job->RestoreCheckpoint(r.resume_checkpoint);
      if (!restored.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot resume from the checkpoint: ", restored.message()));
      }
      r.resume_checkpoint.clear();
    }
    {
      absl::MutexLock lock(&mu_);
      if (!aborted_.ok()) return aborted_;
      pending_.push_back(job);
    }
    job->done.WaitForNotification();
    return std::move(job->outcome);
  }

  void Evaluate(EvaluationRequest request, EvaluationDone done) {
    auto eval = std::make_shared<PendingEvaluation>();
    eval->request = std::move(request);
    std::vector<const prompts::PromptModel*> members;
    for (const auto& member : eval->request.ensemble) members.push_back(member.get());
    const int rows = options_.max_eval_rows_per_slice > 0 ? options_.max_eval_rows_per_slice : 64;
    absl::StatusOr<std::unique_ptr<training::EvaluationRun>> run =
        training::EvaluationRun::Start(*backbone_, std::move(members), eval->request.data,
                                       rows, eval->request.max_tokens);
    if (!run.ok()) {
      done(run.status());
      return;
    }
    eval->run = *std::move(run);
    eval->done = std::move(done);
    absl::Status aborted;
    {
      absl::MutexLock lock(&mu_);
      aborted = aborted_;
      if (aborted.ok()) pending_evals_.push_back(std::move(eval));
    }
    if (!aborted.ok()) eval->done(aborted);
  }

  bool HasWork() const {
    absl::MutexLock lock(&mu_);
    return !pending_.empty() || active_count_ > 0 || !pending_evals_.empty() ||
           active_evals_ > 0;
  }

  void Step() {
    absl::MutexLock step_lock(&step_mu_);
    // The executor may serve under InferenceMode; training needs autograd.
    c10::InferenceMode not_inference(false);
    torch::AutoGradMode grad(true);
    {
      absl::MutexLock lock(&mu_);
      for (auto& job : pending_) active_.push_back(std::move(job));
      pending_.clear();
      for (auto& eval : pending_evals_) evals_.push_back(std::move(eval));
      pending_evals_.clear();
    }
    const bool worked = StepLocked();
    // Jobs that ended leave; their Run calls return.
    std::vector<std::shared_ptr<Job>> still;
    for (auto& job : active_) {
      if (!job->done.HasBeenNotified()) still.push_back(std::move(job));
    }
    active_ = std::move(still);
    absl::MutexLock lock(&mu_);
    active_count_ = static_cast<int64_t>(active_.size());
    active_evals_ = static_cast<int64_t>(evals_.size());
    if (worked) ++stats_.steps;
  }

  void Abort(const absl::Status& status) {
    absl::MutexLock step_lock(&step_mu_);
    std::vector<std::shared_ptr<Job>> jobs;
    {
      absl::MutexLock lock(&mu_);
      aborted_ = status;
      jobs = std::move(pending_);
      pending_.clear();
      active_count_ = 0;
      for (auto& eval : pending_evals_) evals_.push_back(std::move(eval));
      pending_evals_.clear();
      active_evals_ = 0;
    }
    for (auto& job : active_) jobs.push_back(std::move(job));
    active_.clear();
    for (auto& job : jobs) Complete(*job, status);
    std::vector<std::shared_ptr<PendingEvaluation>> evals = std::move(evals_);
    evals_.clear();
    for (auto& eval : evals) eval->done(status);
  }

  Stats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  static void Complete(Job& job, absl::StatusOr<TrainingOutcome> outcome) {
    if (job.done.HasBeenNotified()) return;
    job.outcome = std::move(outcome);
    job.done.Notify();
  }

  // The run is over: the best epoch's model and its figures to the caller.
  static void Succeed(Job& job) {
    absl::StatusOr<training::TrainResult> finished = job.job->Finish();
    if (!finished.ok()) {
      Complete(job, finished.status());
      return;
    }
    TrainingOutcome outcome;
    outcome.result = *std::move(finished);
    const training::TrainResult& result = outcome.result;
    outcome.metrics = job.job->best_metrics();
    if (!outcome.metrics.is_object()) outcome.metrics = nlohmann::json::object();
    outcome.metrics["valid_metric"] = result.best_valid_metric;
    outcome.metrics["best_epoch"] = result.best_epoch;
    outcome.metrics["epochs"] = result.epochs.size();
    outcome.metrics["early_stopped"] = result.early_stopped;
    outcome.metrics["examples_per_second"] = result.examples_per_second;
    outcome.model = std::move(job.model);
    job.job.reset();
    Complete(job, std::move(outcome));
  }

  // One unit of work: training's (StepTrainingLocked) or one batch of a
  // queued evaluation, the two taking turns while both have work. False
  // when there was nothing to do.
  bool StepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(step_mu_) {
    if (!evals_.empty() && evaluation_turn_) {
      evaluation_turn_ = false;
      StepEvaluationLocked();
      return true;
    }
    evaluation_turn_ = true;
    if (StepTrainingLocked()) return true;
    if (evals_.empty()) return false;
    evaluation_turn_ = false;
    StepEvaluationLocked();
    return true;
  }

  // One batch of the next evaluation in turn; an evaluation that ends
  // (scored, stopped or failed) leaves with its callback called.
  void StepEvaluationLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(step_mu_) {
    const size_t pick = next_evaluation_++ % evals_.size();
    std::shared_ptr<PendingEvaluation> eval = evals_[pick];
    absl::StatusOr<training::Evaluation> outcome = absl::UnknownError("unfinished");
    bool ended = false;
    absl::Status stop = eval->request.should_stop ? eval->request.should_stop()
                                                  : absl::OkStatus();
    if (!stop.ok()) {
      outcome = std::move(stop);
      ended = true;
    } else if (absl::Status next = eval->run->Next(); !next.ok()) {
      outcome = std::move(next);
      ended = true;
    } else if (eval->run->done()) {
      outcome = eval->run->Finish();
      ended = true;
    }
    if (!ended) return;
    evals_.erase(evals_.begin() + static_cast<std::ptrdiff_t>(pick));
    if (outcome.ok()) {
      absl::MutexLock lock(&mu_);
      stats_.evaluated += static_cast<int64_t>(eval->request.data.size());
    }
    eval->done(std::move(outcome));
  }

  // Training's unit of work: one epoch-end validation batch, or one step of
  // every job that has one. False when there was nothing to do.
  bool StepTrainingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(step_mu_) {
    for (auto& job : active_) {
      if (job->job->phase() == TrainingJob::Phase::kDone) {
        Succeed(*job);
      } else if (job->job->phase() == TrainingJob::Phase::kStep &&
                 job->cancelled && job->cancelled()) {
        job->job->Cancel();
        Complete(*job, absl::CancelledError("training cancelled"));
      }
    }
    for (auto& job : active_) {
      if (job->done.HasBeenNotified() ||
          job->job->phase() != TrainingJob::Phase::kEvaluate) {
        continue;
      }
      // Validation in slices too: one batch per Step, the epoch's report
      // once the last one ran.
      absl::StatusOr<bool> evaluated =
          job->job->EvaluateSome(std::max(options_.max_eval_rows_per_slice, 0));
      if (!evaluated.ok()) {
        Complete(*job, evaluated.status());
        return true;
      }
      if (!*evaluated) return true;
      absl::StatusOr<training::EpochReport> report = job->job->EndEpoch();
      if (!report.ok()) {
        Complete(*job, report.status());
        return true;
      }
      if (job->checkpoint) {
        absl::StatusOr<std::string> bytes = job->job->CheckpointBytes();
        if (!bytes.ok()) {
          Complete(*job, bytes.status());
          return true;
        }
        job->checkpoint(std::move(*bytes));
      }
      if (job->progress) job->progress(*report);
      if (job->job->phase() == TrainingJob::Phase::kDone) Succeed(*job);
      return true;
    }
    std::vector<Job*> steppable;
    std::vector<TrainingJob*> jobs;
    for (auto& job : active_) {
      if (job->done.HasBeenNotified() ||
          job->job->phase() != TrainingJob::Phase::kStep) {
        continue;
      }
      steppable.push_back(job.get());
      jobs.push_back(job->job.get());
    }
    if (jobs.empty()) return false;
    const size_t steppable_count = jobs.size();
    const int n = static_cast<int>(jobs.size());
    const int slice = options_.max_rows_per_slice;
    const int slice_tokens = options_.max_tokens_per_slice;
    const int per_job = slice > 0 ? std::max(1, slice / n) : 0;
    const int tokens_per_job = slice_tokens > 0 ? std::max(1, slice_tokens / n) : 0;
    int64_t rows = 0;
    for (const Job* job : steppable) {
      const int batch = job->request.options.batch_size;
      rows += per_job > 0 ? std::min(batch, per_job) : batch;
    }
    const bool batched = jobs.size() > 1 && rows <= options_.max_batched_rows &&
                         ChooseBatched(jobs.size());
    if (!batched && jobs.size() > 1) {
      // In turns: one job's slice per Step, round robin.
      const size_t pick = next_turn_++ % jobs.size();
      steppable = {steppable[pick]};
      jobs = {jobs[pick]};
    }
    training::MultiJobTrainer trainer(*backbone_);
    const auto start = Clock::now();
    const std::vector<absl::Status> statuses =
        batched ? trainer.StepBatched(jobs, per_job, tokens_per_job)
                : trainer.StepInTurns(jobs, std::max(slice, 0), std::max(slice_tokens, 0));
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    int64_t examples = 0;
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (!statuses[j].ok()) {
        Complete(*steppable[j], statuses[j]);
        continue;
      }
      examples += jobs[j]->slice_rows();
    }
    const size_t active = steppable_count;
    if (active > 1) {
      Probe& probe = (batched ? batched_probes_ : turns_probes_)[active];
      ++probe.steps;
      probe.examples += examples;
      probe.seconds += seconds;
    }
    absl::MutexLock lock(&mu_);
    stats_.examples += examples;
    if (active > 1) {  // the latest figure of each way
      if (batched_probes_[active].eps() > 0) {
        stats_.batched_eps = batched_probes_[active].eps();
      }
      if (turns_probes_[active].eps() > 0) {
        stats_.turns_eps = turns_probes_[active].eps();
      }
    }
    stats_.current = batched ? TrainingMode::kBatched : TrainingMode::kTurns;
    return true;
  }

  // kAuto: probe each way for `probe_steps` steps with this many jobs, then
  // keep the one with more examples/s. Measured per job count, since the
  // gain of batching grows with the number of jobs.
  bool ChooseBatched(size_t jobs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(step_mu_) {
    switch (options_.mode) {
      case TrainingMode::kBatched:
        return true;
      case TrainingMode::kTurns:
        return false;
      case TrainingMode::kAuto:
        break;
    }
    const Probe& b = batched_probes_[jobs];
    const Probe& t = turns_probes_[jobs];
    if (b.steps < options_.probe_steps) return true;
    if (t.steps < options_.probe_steps) return false;
    return b.eps() >= t.eps();
  }

  const std::shared_ptr<const backbone::Backbone> backbone_;
  const TrainingDriverOptions options_;

  // Held by Step and Abort: the executor's side of the driver.
  absl::Mutex step_mu_;
  std::vector<std::shared_ptr<Job>> active_ ABSL_GUARDED_BY(step_mu_);
  std::map<size_t, Probe> batched_probes_ ABSL_GUARDED_BY(step_mu_);
  std::map<size_t, Probe> turns_probes_ ABSL_GUARDED_BY(step_mu_);
  size_t next_turn_ ABSL_GUARDED_BY(step_mu_) = 0;  // in turns: round robin
  std::vector<std::shared_ptr<PendingEvaluation>> evals_ ABSL_GUARDED_BY(step_mu_);
  size_t next_evaluation_ ABSL_GUARDED_BY(step_mu_) = 0;  // round robin
  bool evaluation_turn_ ABSL_GUARDED_BY(step_mu_) = true;

  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(step_mu_);
  std::vector<std::shared_ptr<Job>> pending_ ABSL_GUARDED_BY(mu_);
  int64_t active_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<PendingEvaluation>> pending_evals_ ABSL_GUARDED_BY(mu_);
  int64_t active_evals_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status aborted_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

absl::Status CheckTrainableDtype(at::ScalarType dtype) {
  if (dtype != at::kHalf) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "this server's backbone is float16, which serves but does not train (no loss "
      "scaling: small gradients would underflow); train on a replica started with "
      "--dtype bfloat16 or float32");
}

TrainingDriverOptions TrainingDriverOptions::ForDevice(const c10::Device& device) {
  TrainingDriverOptions options;
  if (device.is_cuda()) {
    options.max_rows_per_slice = 64;
    options.max_tokens_per_slice = 4096;
    options.max_eval_rows_per_slice = 256;
  }
  return options;
}

TrainingDriver::TrainingDriver(std::shared_ptr<const backbone::Backbone> backbone,
                               TrainingDriverOptions options)
    : impl_(std::make_unique<Impl>(std::move(backbone), options)) {}

TrainingDriver::~TrainingDriver() {
  impl_->Abort(absl::UnavailableError("the training driver was destroyed"));
}

absl::StatusOr<TrainingOutcome> TrainingDriver::Run(
    TrainingRequest request,
    std::function<void(const training::EpochReport&)> progress,
    std::function<void(std::string)> checkpoint,
    std::function<bool()> cancelled) {
  return impl_->Run(std::move(request), std::move(progress),
                    std::move(checkpoint), std::move(cancelled));
}

void TrainingDriver::Evaluate(EvaluationRequest request, EvaluationDone done) {
  impl_->Evaluate(std::move(request), std::move(done));
}

bool TrainingDriver::HasWork() const { return impl_->HasWork(); }
void TrainingDriver::Step() { impl_->Step(); }
void TrainingDriver::Abort(const absl::Status& status) { impl_->Abort(status); }
TrainingDriver::Stats TrainingDriver::stats() const { return impl_->stats(); }

}  // namespace ptune::engine
