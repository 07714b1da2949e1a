#include "server/training/training_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/datasets/random.h"
#include "server/training/evaluator.h"

namespace ptune::training {
namespace {

using Clock = std::chrono::steady_clock;

// Shuffled batches of similar lengths: the epoch's permutation is cut into
// windows of 50 batches, each window sorted by length and cut into batches,
// and the batches shuffled again (padding drops without losing randomness).
std::vector<std::vector<size_t>> EpochBatches(const datasets::Dataset& data,
                                              uint64_t seed, int epoch,
                                              int batch_size) {
  const std::vector<size_t> order = EpochOrder(data.size(), seed, epoch);
  const size_t window = static_cast<size_t>(batch_size) * 50;
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < order.size(); start += window) {
    auto window_batches = LengthSortedBatches(
        data,
        std::vector<size_t>(order.begin() + start,
                            order.begin() + std::min(order.size(), start + window)),
        batch_size);
    std::move(window_batches.begin(), window_batches.end(), std::back_inserter(batches));
  }
  datasets::Random random(seed * 1000003 + epoch * 7919 + 17);
  random.Shuffle(&batches);
  return batches;
}

constexpr int kReportFields = 7;

// Where task `t`'s parameters sit in a checkpoint.
std::string CheckpointPrefix(size_t t) {
  return t == 0 ? "model." : absl::StrCat("aux", t, ".");
}

// torch::nn::utils::clip_grad_norm_ (L2) without its read of the norm back
// to the host: the same scale, min(1, max_norm / (norm + 1e-6)), is applied
// on the device, so a CUDA step does not synchronize here.
void ClipGradNorm(const std::vector<at::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const at::Tensor& p : parameters) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  }
  if (norms.empty()) return;
  const at::Tensor scale =
      (max_norm / (at::stack(norms).norm(2) + 1e-6)).clamp_max(1.0);
  for (const at::Tensor& p : parameters) {
    if (p.grad().defined()) p.grad().mul_(scale);
  }
}

}  // namespace

TrainingJob::TrainingJob(const backbone::Backbone& backbone,
                         prompts::PromptModel& model,
                         const datasets::Dataset& train,
                         const datasets::Dataset& valid,
                         const TrainOptions& options)
    : backbone_(backbone), model_(model), train_(train), valid_(valid),
      options_(options) {}

TrainingJob::~TrainingJob() = default;

absl::StatusOr<std::unique_ptr<TrainingJob>> TrainingJob::Create(
    const backbone::Backbone& backbone, prompts::PromptModel& model,
    const datasets::Dataset& train, const datasets::Dataset& valid,
    const TrainOptions& options, std::vector<JobTask> auxiliary) {
  if (train.size() == 0 || valid.size() == 0) {
    return absl::InvalidArgumentError("training and validation sets must not be empty");
  }
  for (size_t i = 0; i < auxiliary.size(); ++i) {
    const JobTask& aux = auxiliary[i];
    const std::string which = absl::StrCat("auxiliary task ", i + 1);
    if (aux.model == nullptr || aux.train == nullptr || aux.model == &model) {
      return absl::InvalidArgumentError(absl::StrCat(which, " needs its own model and data"));
    }
    if (aux.train->size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(which, " has no training examples"));
    }
    if ((aux.train->task == datasets::Task::kTag) !=
        (aux.model->task() == datasets::Task::kTag)) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, ": dataset task differs from its model's task"));
    }
    if (aux.model->spec().kind != model.spec().kind ||
        aux.model->spec().length != model.spec().length) {
      return absl::InvalidArgumentError(absl::StrCat(
          which, ": its model's prompt kind or length differs from the main model's "
                 "(the tasks share one prompt)"));
    }
  }
  if (options.epochs < 1 || options.batch_size < 1 || options.learning_rate <= 0 ||
      options.reparam_learning_rate < 0) {
    return absl::InvalidArgumentError(
        "epochs, batch_size and learning_rate must be positive (reparam_learning_rate "
        "not negative)");
  }
  if ((train.task == datasets::Task::kTag) != (model.task() == datasets::Task::kTag)) {
    return absl::InvalidArgumentError("dataset task differs from the prompt's task");
  }
  std::unique_ptr<TrainingJob> job(
      new TrainingJob(backbone, model, train, valid, options));
  job->tasks_.push_back({&model, &train});
  job->tasks_.insert(job->tasks_.end(), auxiliary.begin(), auxiliary.end());
  RETURN_IF_ERROR(common::TorchCall("creating a training job", [&] {
    // The main model's prompt, head and case table, then each auxiliary
    // task's head and case table.
    std::vector<prompts::PromptModel::ParameterGroup> model_groups = model.ParameterGroups(
        options.reparam_learning_rate > 0
            ? options.reparam_learning_rate / options.learning_rate
            : prompts::kReparamLearningRateScale);
    for (const JobTask& aux : auxiliary) {
      for (auto& group : aux.model->HeadParameterGroups()) {
        model_groups.push_back(std::move(group));
      }
    }
    // Checkpoints index the best epoch's tensors by this order: the main
    // model's Parameters(), then each auxiliary head's.
    job->parameters_ = model.Parameters();
    for (size_t g = model.ParameterGroups().size(); g < model_groups.size(); ++g) {
      job->parameters_.insert(job->parameters_.end(), model_groups[g].parameters.begin(),
                              model_groups[g].parameters.end());
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (const prompts::PromptModel::ParameterGroup& group : model_groups) {
      groups.emplace_back(group.parameters,
                          std::make_unique<torch::optim::AdamWOptions>(
                              torch::optim::AdamWOptions(options.learning_rate *
                                                         group.learning_rate_scale)
                                  .weight_decay(options.weight_decay)));
      job->group_lr_scales_.push_back(group.learning_rate_scale);
    }
    job->optimizer_ = std::make_unique<torch::optim::AdamW>(
        std::move(groups), torch::optim::AdamWOptions(options.learning_rate)
                               .weight_decay(options.weight_decay));
    job->rng_ = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  }));
  int64_t steps_per_epoch = 0;
  for (const JobTask& task : job->tasks_) {
    steps_per_epoch += BatchesPerEpoch(*task.train, options.batch_size);
  }
  // The schedule spans every epoch; max_steps only stops early, so a run
  // stopped by it and resumed later follows the same learning rates.
  job->total_steps_ = steps_per_epoch * options.epochs;
  job->StartEpochOrFinish();
  return job;
}

void TrainingJob::StartEpochOrFinish() {
  if (cancelled_ || state_.epoch >= options_.epochs ||
      (options_.max_steps > 0 && state_.step >= options_.max_steps)) {
    phase_ = Phase::kDone;
    return;
  }
  if (state_.epochs_without_improvement >= options_.patience) {
    early_stopped_ = true;
    phase_ = Phase::kDone;
    return;
  }
  batches_.clear();
  for (size_t t = 0; t < tasks_.size(); ++t) {
    // Task 0 draws exactly what a job without auxiliary tasks draws.
    for (std::vector<size_t>& indices :
         EpochBatches(*tasks_[t].train, options_.seed + t * 0x9E3779B9ULL, state_.epoch,
                      options_.batch_size)) {
      batches_.push_back({t, std::move(indices)});
    }
  }
  if (tasks_.size() > 1) {
    datasets::Random random(options_.seed * 104729 + state_.epoch * 7919 + 29);
    random.Shuffle(&batches_);
  }
  next_batch_ = 0;
  loss_sum_ = 0;
  loss_count_ = epoch_examples_ = 0;
  epoch_seconds_ = 0;
  phase_ = Phase::kStep;
}

absl::Status TrainingJob::StepSlice(int max_rows, int max_tokens) {
  const auto start = Clock::now();
  ASSIGN_OR_RETURN(std::vector<prompts::MixedRow> rows,
                   BeginSlice(max_rows, max_tokens));
  ASSIGN_OR_RETURN(prompts::MixedBatch batch,
                   prompts::MakeMixedBatch(backbone_, std::move(rows), true));
  ASSIGN_OR_RETURN(std::vector<at::Tensor> logits,
                   prompts::MixedLogits(backbone_, batch, true));
  ASSIGN_OR_RETURN(at::Tensor loss, StepLoss(logits));
  RETURN_IF_ERROR(common::TorchCall("backward", [&] { loss.backward(); }));
  return EndStep(std::chrono::duration<double>(Clock::now() - start).count());
}

absl::StatusOr<std::vector<prompts::MixedRow>> TrainingJob::BeginSlice(int max_rows,
                                                                      int max_tokens) {
  if (phase_ != Phase::kStep) {
    return absl::FailedPreconditionError("the job has no step to run now");
  }
  if (max_rows < 0 || max_tokens < 0) {
    return absl::InvalidArgumentError("max_rows and max_tokens must not be negative");
  }
  if (!step_open_) {
    pending_task_ = batches_[next_batch_].task;
    pending_indices_ = batches_[next_batch_].indices;
    const JobTask& task = tasks_[pending_task_];
    ASSIGN_OR_RETURN(pending_, MakeTaskBatch(backbone_, *task.model, *task.train,
                                             pending_indices_, options_.max_tokens));
    pending_rows_ = prompts::MixedRowsFromTokens(*task.model, pending_.tokens);
    RETURN_IF_ERROR(common::TorchCall("prompt for a step", [&] {
      // Gradients are cleared to none, not zeroed: AdamW then leaves a
      // parameter this step does not reach (another task's head) as it is,
      // instead of moving it by its momentum, so the update never depends
      // on whether an earlier step in this process touched it, and a
      // resumed job steps exactly as the uninterrupted one.
      for (at::Tensor& p : parameters_) p.mutable_grad().reset();
      // The slices read a leaf holding the prompt's values; its gradient
      // goes through the prompt's graph once, after the last slice.
      prompt_ = model_.Prompt(/*training=*/true, &rng_);
      prompt_leaf_ = prompt_.detach().requires_grad_(prompt_.requires_grad());
      if (task.train->task == datasets::Task::kTag) {
        loss_denominator_ = static_cast<double>(pending_.scored_targets);
      } else {
        loss_denominator_ = static_cast<double>(pending_rows_.size());
      }
    }));
    pending_loss_ = at::Tensor();
    pending_seconds_ = 0;
    slice_begin_ = slice_end_ = 0;
    step_open_ = true;
  }
  const int64_t total = static_cast<int64_t>(pending_rows_.size());
  slice_begin_ = slice_end_;
  slice_end_ = max_rows == 0 ? total : std::min(total, slice_begin_ + max_rows);
  if (max_tokens > 0) {
    int64_t tokens = 0;
    for (int64_t r = slice_begin_; r < slice_end_; ++r) {
      tokens += static_cast<int64_t>(pending_rows_[r].encoding.ids.size());
      if (r > slice_begin_ && tokens > max_tokens) {
        slice_end_ = r;
        break;
      }
    }
  }
  std::vector<prompts::MixedRow> rows(pending_rows_.begin() + slice_begin_,
                                      pending_rows_.begin() + slice_end_);
  for (prompts::MixedRow& row : rows) row.prompt = prompt_leaf_;
  return rows;
}

absl::StatusOr<at::Tensor> TrainingJob::StepLoss(
    const std::vector<at::Tensor>& row_logits) {
  if (!step_open_) {
    return absl::FailedPreconditionError("no slice was begun");
  }
  if (static_cast<int64_t>(row_logits.size()) != slice_rows()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", slice_rows(), " rows of logits, got ", row_logits.size()));
  }
  return common::TorchCall("training loss", [&]() -> at::Tensor {
    namespace F = torch::nn::functional;
    // Summed over the slice and divided by the whole batch's count: the
    // slices' losses add up to the batch's mean loss.
    at::Tensor loss;
    if (tasks_[pending_task_].train->task == datasets::Task::kTag) {
      // Each row's logits cover its own tokens: cut its targets to match.
      std::vector<at::Tensor> targets;
      for (size_t r = 0; r < row_logits.size(); ++r) {
        targets.push_back(pending_.targets[slice_begin_ + static_cast<int64_t>(r)].narrow(
            0, 0, row_logits[r].size(0)));
      }
      loss = F::cross_entropy(at::cat(row_logits, 0), at::cat(targets, 0),
                              F::CrossEntropyFuncOptions()
                                  .ignore_index(kIgnoreIndex)
                                  .reduction(torch::kSum));
    } else {
      loss = F::cross_entropy(at::stack(row_logits, 0),
                              pending_.targets.narrow(0, slice_begin_, slice_rows()),
                              F::CrossEntropyFuncOptions().reduction(torch::kSum));
    }
    loss = loss / loss_denominator_;
    // Summed on the device and read once per step (EndStep): no host
    // synchronization per slice on CUDA.
    pending_loss_ = pending_loss_.defined() ? pending_loss_ + loss.detach()
                                            : loss.detach();
    return slice_begin_ == 0 ? loss + model_.Penalty() : loss;
  });
}

absl::Status TrainingJob::EndStep(double seconds) {
  if (!step_open_) {
    return absl::FailedPreconditionError("no slice was begun");
  }
  pending_seconds_ += seconds;
  if (slice_end_ < static_cast<int64_t>(pending_rows_.size())) {
    return absl::OkStatus();  // more slices to come
  }
  step_open_ = false;
  const double step_seconds = pending_seconds_;
  pending_rows_.clear();
  at::Tensor prompt = std::move(prompt_), leaf = std::move(prompt_leaf_);
  // The previous step's loss has long been copied: check it now. This
  // step's loss starts its copy and is checked at the next EndStep (or
  // EndEpoch): the step launches its update without waiting for the device.
  RETURN_IF_ERROR(CollectLastLoss());
  RETURN_IF_ERROR(common::TorchCall("step loss", [&] {
    last_loss_ = device::StartHostCopy(
        pending_loss_.defined() ? pending_loss_.to(at::kDouble)
                                : at::zeros({}, at::kDouble));
  }));
  last_loss_step_ = state_.step;
  pending_loss_ = at::Tensor();
  RETURN_IF_ERROR(common::TorchCall("optimizer step", [&] {
    if (prompt.requires_grad() && leaf.grad().defined()) {
      prompt.backward(leaf.grad());
    }
    if (options_.max_grad_norm > 0) {
      ClipGradNorm(parameters_, options_.max_grad_norm);
    }
    const double lr = ScheduledLearningRate(options_.learning_rate, state_.step,
                                            total_steps_, options_.warmup_fraction);
    for (size_t g = 0; g < optimizer_->param_groups().size(); ++g) {
      static_cast<torch::optim::AdamWOptions&>(optimizer_->param_groups()[g].options())
          .lr(lr * group_lr_scales_[g]);
    }
    optimizer_->step();
  }));
  const int64_t n = static_cast<int64_t>(pending_indices_.size());
  epoch_examples_ += n;
  epoch_seconds_ += step_seconds;
  train_seconds_ += step_seconds;
  trained_examples_ += n;
  ++state_.step;
  ++next_batch_;
  if (next_batch_ >= batches_.size() ||
      (options_.max_steps > 0 && state_.step >= options_.max_steps)) {
    phase_ = Phase::kEvaluate;
  }
  return absl::OkStatus();
}

absl::Status TrainingJob::CollectLastLoss() {
  if (!last_loss_.pending()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const double loss, common::TorchCall("step loss", [&] {
                     return last_loss_.Wait().item<double>();  // a host tensor
                   }));
  if (!std::isfinite(loss)) {
    return absl::InternalError(absl::StrCat(
        "training diverged at step ", last_loss_step_, " (loss ", loss,
        "); lower the learning rate"));
  }
  loss_sum_ += loss;
  ++loss_count_;
  return absl::OkStatus();
}

absl::StatusOr<bool> TrainingJob::EvaluateSome(int max_rows) {
  if (phase_ != Phase::kEvaluate) {
    return absl::FailedPreconditionError("the epoch has not ended");
  }
  RETURN_IF_ERROR(BeginEvaluation(max_rows));
  if (!eval_run_->done()) RETURN_IF_ERROR(eval_run_->Next());
  return eval_run_->done();
}

absl::Status TrainingJob::BeginEvaluation(int max_rows) {
  if (eval_run_ != nullptr) return absl::OkStatus();
  const int rows = max_rows > 0 ? std::min(max_rows, options_.eval_batch_size)
                                : options_.eval_batch_size;
  ASSIGN_OR_RETURN(eval_run_, EvaluationRun::Start(backbone_, {&model_}, valid_, rows,
                                                   options_.max_tokens));
  return absl::OkStatus();
}

absl::StatusOr<EpochReport> TrainingJob::EndEpoch() {
  if (phase_ != Phase::kEvaluate) {
    return absl::FailedPreconditionError("the epoch has not ended");
  }
  RETURN_IF_ERROR(CollectLastLoss());
  EpochReport report{.epoch = state_.epoch + 1, .epochs = options_.epochs};
  report.seconds = epoch_seconds_;
  report.step = state_.step;
  report.train_loss = loss_count_ > 0 ? loss_sum_ / loss_count_ : 0;
  report.examples_per_second = epoch_seconds_ > 0 ? epoch_examples_ / epoch_seconds_ : 0;
  RETURN_IF_ERROR(BeginEvaluation(0));
  while (!eval_run_->done()) RETURN_IF_ERROR(eval_run_->Next());
  ASSIGN_OR_RETURN(const Evaluation eval, eval_run_->Finish());
  eval_run_.reset();
  report.valid_metric = eval.primary;
  report.improved = eval.primary > state_.best_metric;
  if (report.improved) {
    state_.best_metric = eval.primary;
    state_.best_epoch = report.epoch;
    state_.epochs_without_improvement = 0;
    state_.best_metrics = eval.metrics;
    RETURN_IF_ERROR(common::TorchCall("keeping the best epoch", [&] {
      state_.best_parameters.clear();
      for (const at::Tensor& p : parameters_) {
        state_.best_parameters.push_back(p.detach().clone());
      }
    }));
  } else {
    ++state_.epochs_without_improvement;
  }
  ++state_.epoch;
  state_.reports.push_back(report);
  StartEpochOrFinish();
  return report;
}

void TrainingJob::Cancel() {
  cancelled_ = true;
  eval_run_.reset();
  step_open_ = false;
  pending_rows_.clear();
  prompt_ = prompt_leaf_ = at::Tensor();
  last_loss_ = device::PendingHostCopy();
  phase_ = Phase::kDone;
}

absl::StatusOr<std::string> TrainingJob::CheckpointBytes() const {
  return common::TorchCall("writing a checkpoint", [&] {
    torch::serialize::OutputArchive archive;
    for (size_t t = 0; t < tasks_.size(); ++t) {
      for (const auto& [name, tensor] : tasks_[t].model->NamedParameters()) {
        archive.write(absl::StrCat(CheckpointPrefix(t), name), tensor.detach());
      }
    }
    for (size_t i = 0; i < state_.best_parameters.size(); ++i) {
      archive.write(absl::StrCat("best.", i), state_.best_parameters[i]);
    }
    torch::serialize::OutputArchive optimizer_archive;
    optimizer_->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("rng", rng_.get_state());
    archive.write("epoch", torch::tensor(static_cast<int64_t>(state_.epoch)));
    archive.write("step", torch::tensor(state_.step));
    archive.write("best_epoch", torch::tensor(static_cast<int64_t>(state_.best_epoch)));
    archive.write("best_metric", torch::tensor(state_.best_metric, torch::kDouble));
    archive.write("patience_used",
                  torch::tensor(static_cast<int64_t>(state_.epochs_without_improvement)));
    std::vector<double> reports;
    for (const EpochReport& r : state_.reports) {
      reports.insert(reports.end(), {static_cast<double>(r.epoch), static_cast<double>(r.step),
                                     r.train_loss, r.valid_metric, r.examples_per_second,
                                     r.seconds, r.improved ? 1.0 : 0.0});
    }
    archive.write("reports", torch::tensor(reports, torch::kDouble));
    const std::string metrics = state_.best_metrics.dump();
    archive.write("best_metrics",
                  torch::tensor(std::vector<uint8_t>(metrics.begin(), metrics.end()),
                                torch::kUInt8));
    std::ostringstream out;
    archive.save_to(out);
    return out.str();
  });
}

absl::Status TrainingJob::RestoreCheckpoint(const std::string& bytes) {
  State state;
  RETURN_IF_ERROR(common::TorchCall("reading a checkpoint", [&] {
    torch::NoGradGuard no_grad;
    torch::serialize::InputArchive archive;
    std::istringstream in(bytes);
    archive.load_from(in);
    for (size_t t = 0; t < tasks_.size(); ++t) {
      for (auto& [name, tensor] : tasks_[t].model->NamedParameters()) {
        at::Tensor saved;
        archive.read(absl::StrCat(CheckpointPrefix(t), name), saved);
        tensor.copy_(saved);
      }
    }
    for (size_t i = 0; i < parameters_.size(); ++i) {
      at::Tensor saved;
      if (!archive.try_read(absl::StrCat("best.", i), saved)) break;
      state.best_parameters.push_back(saved.to(parameters_[i].device()));
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer_->load(optimizer_archive);
    at::Tensor rng, epoch, step, best_epoch, best_metric, patience, reports, metrics;
    archive.read("rng", rng);
    rng_.set_state(rng);
    archive.read("epoch", epoch);
    archive.read("step", step);
    archive.read("best_epoch", best_epoch);
    archive.read("best_metric", best_metric);
    archive.read("patience_used", patience);
    archive.read("reports", reports);
    state.epoch = static_cast<int>(epoch.item<int64_t>());
    state.step = step.item<int64_t>();
    state.best_epoch = static_cast<int>(best_epoch.item<int64_t>());
    state.best_metric = best_metric.item<double>();
    state.epochs_without_improvement = static_cast<int>(patience.item<int64_t>());
    const at::Tensor r = reports.contiguous();
    for (int64_t i = 0; i + kReportFields <= r.numel(); i += kReportFields) {
      const double* v = r.data_ptr<double>() + i;
      state.reports.push_back({.epoch = static_cast<int>(v[0]),
                               .step = static_cast<int64_t>(v[1]),
                               .train_loss = v[2], .valid_metric = v[3],
                               .examples_per_second = v[4], .seconds = v[5],
                               .improved = v[6] != 0});
    }
    if (archive.try_read("best_metrics", metrics)) {
      const at::Tensor m = metrics.contiguous();
      const char* data = reinterpret_cast<const char*>(m.data_ptr<uint8_t>());
      state.best_metrics = nlohmann::json::parse(data, data + m.numel(), nullptr,
                                                 /*allow_exceptions=*/false);
      if (state.best_metrics.is_discarded()) state.best_metrics = nlohmann::json::object();
    }
  }));
  state_ = std::move(state);
  StartEpochOrFinish();
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> TrainingJob::Finish() {
  model_.set_max_tokens(std::min(options_.max_tokens, model_.MaxTextTokens(backbone_)));
  if (!state_.best_parameters.empty()) {
    RETURN_IF_ERROR(common::TorchCall("restoring the best epoch", [&] {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < parameters_.size(); ++i) {
        parameters_[i].copy_(state_.best_parameters[i]);
      }
    }));
  }
  TrainResult result;
  result.epochs = state_.reports;
  result.best_epoch = state_.best_epoch;
  result.best_valid_metric = state_.best_metric;
  result.cancelled = cancelled_;
  result.early_stopped = early_stopped_;
  result.examples_per_second =
      train_seconds_ > 0 ? trained_examples_ / train_seconds_ : 0;
  return result;
}

}  // namespace ptune::training
