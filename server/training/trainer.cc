#include "server/training/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "server/common/files.h"
#include "server/common/status_macros.h"
#include "server/datasets/random.h"
#include "server/training/training_job.h"

namespace ptune::training {

int64_t BatchesPerEpoch(const datasets::Dataset& data, int batch_size) {
  return (static_cast<int64_t>(data.size()) + batch_size - 1) / batch_size;
}

double ScheduledLearningRate(double peak, int64_t step, int64_t total,
                             double warmup_fraction) {
  const int64_t warmup = static_cast<int64_t>(std::ceil(total * warmup_fraction));
  if (step < warmup) return peak * (step + 1) / static_cast<double>(warmup);
  if (total <= warmup) return peak;
  return peak * std::max(0.0, static_cast<double>(total - step) /
                                  static_cast<double>(total - warmup));
}

int DefaultEpochs(size_t train_examples) {
  if (train_examples == 0) return kMaxDefaultEpochs;
  const int64_t n = static_cast<int64_t>(train_examples);
  const int64_t epochs = (kDefaultExamplePasses + n - 1) / n;
  return static_cast<int>(std::clamp<int64_t>(epochs, kMinDefaultEpochs, kMaxDefaultEpochs));
}

absl::StatusOr<int> DefaultMaxTokens(const backbone::Backbone& backbone,
                                     const datasets::Dataset& train) {
  constexpr size_t kMaxLooked = 10000;
  const size_t n = train.size();
  const size_t stride = std::max<size_t>(1, (n + kMaxLooked - 1) / kMaxLooked);
  std::vector<int> counts;
  for (size_t i = 0; i < n; i += stride) {
    ASSIGN_OR_RETURN(const text::Encoding encoding,
                     backbone.tokenizer().Encode(train.text(i), 0, /*add_special_tokens=*/true));
    counts.push_back(static_cast<int>(encoding.ids.size()));
  }
  if (counts.empty()) return prompts::kDefaultMaxTokens;
  const size_t rank = (counts.size() * 95 + 99) / 100 - 1;  // nearest rank
  std::nth_element(counts.begin(), counts.begin() + rank, counts.end());
  const int p95 = (counts[rank] + 15) / 16 * 16;
  return std::clamp(p95, prompts::kDefaultMaxTokens,
                    static_cast<int>(backbone.config().max_position_embeddings));
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
  ASSIGN_OR_RETURN(std::unique_ptr<TrainingJob> job,
                   TrainingJob::Create(backbone, model, train, valid, options));
  const std::string& path = options.checkpoint_path;
  if (!path.empty() && std::filesystem::exists(path)) {
    ASSIGN_OR_RETURN(const std::string bytes, common::ReadFile(path));
    RETURN_IF_ERROR(job->RestoreCheckpoint(bytes));
  }
  while (job->phase() != TrainingJob::Phase::kDone) {
    if (job->phase() == TrainingJob::Phase::kStep) {
      if (cancelled != nullptr && cancelled->load()) {
        job->Cancel();
        break;
      }
      RETURN_IF_ERROR(job->Step());
      continue;
    }
    ASSIGN_OR_RETURN(const EpochReport report, job->EndEpoch());
    if (!path.empty()) {
      ASSIGN_OR_RETURN(const std::string bytes, job->CheckpointBytes());
      RETURN_IF_ERROR(common::WriteFileAtomically(path, bytes));
    }
    if (progress) progress(report);
  }
  return job->Finish();
}

}  // namespace ptune::training
