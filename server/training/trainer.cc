#include "server/training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <numeric>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/datasets/random.h"
#include "server/training/evaluator.h"
#include "server/training/task_batch.h"

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

// Everything needed to continue training exactly where it stopped.
struct State {
  int epoch = 0;  // epochs completed
  int64_t step = 0;
  int best_epoch = 0;
  double best_metric = -1;
  int epochs_without_improvement = 0;
  std::vector<at::Tensor> best_parameters;
  std::vector<EpochReport> reports;
};

absl::Status SaveCheckpoint(const std::string& path, const State& state,
                            const prompts::PromptModel& model,
                            torch::optim::AdamW& optimizer) {
  return common::TorchCall("writing checkpoint " + path, [&] {
    torch::serialize::OutputArchive archive;
    for (const auto& [name, tensor] : model.NamedParameters()) {
      archive.write("model." + name, tensor.detach());
    }
    for (size_t i = 0; i < state.best_parameters.size(); ++i) {
      archive.write(absl::StrCat("best.", i), state.best_parameters[i]);
    }
    torch::serialize::OutputArchive optimizer_archive;
    optimizer.save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("rng", at::detail::getDefaultCPUGenerator().get_state());
    archive.write("epoch", torch::tensor(static_cast<int64_t>(state.epoch)));
    archive.write("step", torch::tensor(state.step));
    archive.write("best_epoch", torch::tensor(static_cast<int64_t>(state.best_epoch)));
    archive.write("best_metric", torch::tensor(state.best_metric, torch::kDouble));
    archive.write("patience_used",
                  torch::tensor(static_cast<int64_t>(state.epochs_without_improvement)));
    std::vector<double> reports;
    for (const EpochReport& r : state.reports) {
      reports.insert(reports.end(), {static_cast<double>(r.epoch), static_cast<double>(r.step),
                                     r.train_loss, r.valid_metric, r.examples_per_second,
                                     r.seconds, r.improved ? 1.0 : 0.0});
    }
    archive.write("reports", torch::tensor(reports, torch::kDouble));
    const std::string tmp = path + ".tmp";
    archive.save_to(tmp);
    std::filesystem::rename(tmp, path);
  });
}

absl::Status LoadCheckpoint(const std::string& path, State& state,
                            prompts::PromptModel& model,
                            torch::optim::AdamW& optimizer) {
  return common::TorchCall("reading checkpoint " + path, [&] {
    torch::NoGradGuard no_grad;
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    for (auto& [name, tensor] : model.NamedParameters()) {
      at::Tensor saved;
      archive.read("model." + name, saved);
      tensor.copy_(saved);
    }
    state.best_parameters.clear();
    for (size_t i = 0; i < model.Parameters().size(); ++i) {
      at::Tensor saved;
      if (!archive.try_read(absl::StrCat("best.", i), saved)) break;
      state.best_parameters.push_back(saved);
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    at::Tensor rng, epoch, step, best_epoch, best_metric, patience, reports;
    archive.read("rng", rng);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
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
    for (int64_t i = 0; i + 7 <= r.numel(); i += 7) {
      const double* v = r.data_ptr<double>() + i;
      state.reports.push_back({.epoch = static_cast<int>(v[0]),
                               .step = static_cast<int64_t>(v[1]),
                               .train_loss = v[2], .valid_metric = v[3],
                               .examples_per_second = v[4], .seconds = v[5],
                               .improved = v[6] != 0});
    }
  });
}

}  // namespace

double ScheduledLearningRate(double peak, int64_t step, int64_t total,
                             double warmup_fraction) {
  const int64_t warmup = static_cast<int64_t>(std::ceil(total * warmup_fraction));
  if (step < warmup) return peak * (step + 1) / static_cast<double>(warmup);
  if (total <= warmup) return peak;
  return peak * std::max(0.0, static_cast<double>(total - step) /
                                  static_cast<double>(total - warmup));
}

std::vector<size_t> EpochOrder(size_t n, uint64_t seed, int epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  datasets::Random random(seed ^ (0x9E3779B97F4A7C15ULL * (epoch + 1)));
  random.Shuffle(&order);
  return order;
}

absl::StatusOr<TrainResult> Train(const backbone::Backbone& backbone,
                                  prompts::PromptModel& model,
                                  const datasets::Dataset& train,
                                  const datasets::Dataset& valid,
                                  const TrainOptions& options,
                                  const ProgressCallback& progress,
                                  const std::atomic<bool>* cancelled) {
  if (train.size() == 0 || valid.size() == 0) {
    return absl::InvalidArgumentError("training and validation sets must not be empty");
  }
  if (options.epochs < 1 || options.batch_size < 1 || options.learning_rate <= 0) {
    return absl::InvalidArgumentError("epochs, batch_size and learning_rate must be positive");
  }
  const bool tagging = train.task == datasets::Task::kTag;
  std::vector<at::Tensor> parameters = model.Parameters();
  torch::optim::AdamW optimizer(
      parameters, torch::optim::AdamWOptions(options.learning_rate)
                      .weight_decay(options.weight_decay));
  State state;
  RETURN_IF_ERROR(common::TorchCall("seeding", [&] { torch::manual_seed(options.seed); }));
  if (!options.checkpoint_path.empty() &&
      std::filesystem::exists(options.checkpoint_path)) {
    RETURN_IF_ERROR(LoadCheckpoint(options.checkpoint_path, state, model, optimizer));
  }
  const int64_t steps_per_epoch =
      (static_cast<int64_t>(train.size()) + options.batch_size - 1) / options.batch_size;
  // The schedule spans every epoch; max_steps only stops early, so a run
  // stopped by it and resumed later follows the same learning rates.
  const int64_t total_steps = steps_per_epoch * options.epochs;

  TrainResult result;
  double train_seconds = 0;
  int64_t trained_examples = 0;
  for (int epoch = state.epoch; epoch < options.epochs; ++epoch) {
    if (state.epochs_without_improvement >= options.patience) {
      result.early_stopped = true;
      break;
    }
    EpochReport report{.epoch = epoch + 1, .epochs = options.epochs};
    double loss_sum = 0;
    int64_t loss_count = 0, examples = 0;
    const auto start = Clock::now();
    for (const auto& indices : EpochBatches(train, options.seed, epoch, options.batch_size)) {
      if (cancelled != nullptr && cancelled->load()) {
        result.cancelled = true;
        break;
      }
      if (options.max_steps > 0 && state.step >= options.max_steps) break;
      ASSIGN_OR_RETURN(TaskBatch batch,
                       MakeTaskBatch(backbone, model, train, indices, options.max_tokens));
      ASSIGN_OR_RETURN(at::Tensor logits, model.Logits(backbone, batch.tokens, true));
      ASSIGN_OR_RETURN(const double loss_value,
                       common::TorchCall("training step", [&] {
        at::Tensor loss = tagging
            ? torch::nn::functional::cross_entropy(
                  logits.reshape({-1, logits.size(-1)}), batch.targets.reshape({-1}),
                  torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex))
            : torch::nn::functional::cross_entropy(logits, batch.targets);
        const double task_loss = loss.item<double>();
        loss = loss + model.Penalty();
        optimizer.zero_grad();
        loss.backward();
        if (options.max_grad_norm > 0) {
          torch::nn::utils::clip_grad_norm_(parameters, options.max_grad_norm);
        }
        const double lr = ScheduledLearningRate(options.learning_rate, state.step,
                                                total_steps, options.warmup_fraction);
        for (auto& group : optimizer.param_groups()) {
          static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        }
        optimizer.step();
        return task_loss;
      }));
      if (!std::isfinite(loss_value)) {
        return absl::InternalError(absl::StrCat(
            "training diverged at step ", state.step, " (loss ", loss_value,
            "); lower the learning rate"));
      }
      loss_sum += loss_value;
      ++loss_count;
      examples += static_cast<int64_t>(indices.size());
      ++state.step;
    }
    report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    train_seconds += report.seconds;
    trained_examples += examples;
    if (result.cancelled) break;
    report.step = state.step;
    report.train_loss = loss_count > 0 ? loss_sum / loss_count : 0;
    report.examples_per_second = report.seconds > 0 ? examples / report.seconds : 0;
    ASSIGN_OR_RETURN(const Evaluation eval,
                     Evaluate(backbone, model, valid, options.eval_batch_size,
                              options.max_tokens));
    report.valid_metric = eval.primary;
    report.improved = eval.primary > state.best_metric;
    if (report.improved) {
      state.best_metric = eval.primary;
      state.best_epoch = epoch + 1;
      state.epochs_without_improvement = 0;
      state.best_parameters.clear();
      for (const at::Tensor& p : parameters) {
        state.best_parameters.push_back(p.detach().clone());
      }
    } else {
      ++state.epochs_without_improvement;
    }
    state.epoch = epoch + 1;
    state.reports.push_back(report);
    if (!options.checkpoint_path.empty()) {
      RETURN_IF_ERROR(SaveCheckpoint(options.checkpoint_path, state, model, optimizer));
    }
    if (progress) progress(report);
    if (options.max_steps > 0 && state.step >= options.max_steps) break;
  }
  // Keep the best epoch's parameters.
  if (!state.best_parameters.empty()) {
    RETURN_IF_ERROR(common::TorchCall("restoring the best epoch", [&] {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < parameters.size(); ++i) {
        parameters[i].copy_(state.best_parameters[i]);
      }
    }));
  }
  result.epochs = state.reports;
  result.best_epoch = state.best_epoch;
  result.best_valid_metric = state.best_metric;
  result.examples_per_second = train_seconds > 0 ? trained_examples / train_seconds : 0;
  return result;
}

}  // namespace ptune::training
