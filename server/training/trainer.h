// Trains a PromptModel against the frozen backbone: AdamW, linear warmup then
// linear decay, gradient clipping, early stopping on a validation set with
// the best epoch's parameters kept, deterministic under a seed on CPU, and a
// checkpoint file holding the complete state (parameters, optimizer, RNG,
// epoch/step, best so far) so an interrupted job resumes exactly.
//
// Thread-safety: one Train call at a time per model; `cancelled` may be
// flipped from another thread and is checked between steps.
#ifndef PTUNE_SERVER_TRAINING_TRAINER_H_
#define PTUNE_SERVER_TRAINING_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_model.h"

namespace ptune::training {

struct TrainOptions {
  // Maximum epochs; DefaultEpochs derives it from the training set's size.
  int epochs = 5;
  int batch_size = 32;
  int eval_batch_size = 64;
  // Text tokens per row incl. [CLS]/[SEP]; longer texts are truncated.
  // Recorded in the trained model (PromptModel::max_tokens) so that serving
  // reads texts the same way; DefaultMaxTokens derives it from the data.
  int max_tokens = prompts::kDefaultMaxTokens;
  double learning_rate = 3e-2;
  // Peak rate of an MLP reparameterization (Z and its layers); 0 =
  // learning_rate x prompts::kReparamLearningRateScale.
  double reparam_learning_rate = 0;
  double weight_decay = 0.0;  // the prompt's own L2 is PromptSpec::l2
  double warmup_fraction = 0.06;
  double max_grad_norm = 1.0;  // 0 = no clipping
  // Stop after this many epochs without a better validation metric.
  int patience = 2;
  uint64_t seed = 42;
  // Stop after this many optimizer steps in total (0 = no limit); the
  // learning-rate schedule still spans `epochs`.
  int64_t max_steps = 0;
  // When set: written at the end of every epoch; if the file exists when
  // training starts, training resumes from it.
  std::string checkpoint_path;
};

struct EpochReport {
  int epoch = 0;  // 1-based
  int epochs = 0;
  int64_t step = 0;
  double train_loss = 0;
  double valid_metric = 0;  // accuracy or entity F1
  double examples_per_second = 0;
  double seconds = 0;  // training time of this epoch (without evaluation)
  bool improved = false;
};

struct TrainResult {
  std::vector<EpochReport> epochs;
  int best_epoch = 0;
  double best_valid_metric = 0;
  bool cancelled = false;
  bool early_stopped = false;
  double examples_per_second = 0;  // over all epochs
};

using ProgressCallback = std::function<void(const EpochReport&)>;

absl::StatusOr<TrainResult> Train(const backbone::Backbone& backbone,
                                  prompts::PromptModel& model,
                                  const datasets::Dataset& train,
                                  const datasets::Dataset& valid,
                                  const TrainOptions& options,
                                  const ProgressCallback& progress = nullptr,
                                  const std::atomic<bool>* cancelled = nullptr);

// The max_tokens a run on `train` defaults to: the 95th percentile of its
// texts' token counts (incl. [CLS]/[SEP]; at most 10,000 texts looked at,
// evenly spread) rounded up to a multiple of 16, at least
// prompts::kDefaultMaxTokens and at most the backbone's positions. Long
// documents are read whole up to the backbone's limit; sets of short texts
// keep the default. The service and ptune-inspect both use it when no
// max_tokens is given.
absl::StatusOr<int> DefaultMaxTokens(const backbone::Backbone& backbone,
                                     const datasets::Dataset& train);

// The epochs a run on `train_examples` rows an epoch defaults to: about
// kDefaultExamplePasses rows seen in all, so a small set gets more epochs
// than a large one and the training time stays bounded, at least
// kMinDefaultEpochs and at most kMaxDefaultEpochs (early stopping may end
// sooner). The service and ptune-inspect both use it when no epochs are
// given. Chosen from the sweep in tests/bench/README.md section 16.
inline constexpr int64_t kDefaultExamplePasses = 120000;
inline constexpr int kMinDefaultEpochs = 2;
inline constexpr int kMaxDefaultEpochs = 20;
int DefaultEpochs(size_t train_examples);

// Steps one epoch over `data` takes at `batch_size` (the last batch may be
// short).
int64_t BatchesPerEpoch(const datasets::Dataset& data, int batch_size);

// The learning rate at `step` of `total` (linear warmup, then linear decay).
double ScheduledLearningRate(double peak, int64_t step, int64_t total,
                             double warmup_fraction);

// The permutation of [0, n) used for epoch `epoch` under `seed`: a pure
// function, so a resumed job sees the same order.
std::vector<size_t> EpochOrder(size_t n, uint64_t seed, int epoch);

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_TRAINER_H_
