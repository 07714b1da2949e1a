// Engine: the serving core of ptune (ARCHITECTURE.md §3-4). Many tenants'
// prompts over ONE frozen backbone: requests are tokenized on the caller's
// thread, queued per text in a BatchScheduler, and ONE device executor thread
// forms batches that mix prompts (shallow of any length, deep, classify and
// tag rows together), runs one forward per batch and applies each row's own
// head. Prompts come from a byte-bounded LRU cache filled by loader threads;
// training jobs (TrainingDriver) run on the same executor, interleaved with
// serving under a configurable share of its time.
//
// Thread-safety: every public method is thread-safe. Ownership: the engine
// shares the backbone, does not own the PromptLoader or the EngineObserver
// (both must outlive it), and owns its executor, loader threads and cache.
// Completion callbacks run on the executor thread, a loader thread or the
// caller's thread (for errors found at once); they must be quick and must not
// destroy the engine.
#ifndef PTUNE_SERVER_ENGINE_ENGINE_H_
#define PTUNE_SERVER_ENGINE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/backbone/backbone.h"
#include "server/batching/scheduler_options.h"
#include "server/engine/prompt_cache.h"
#include "server/engine/prompt_key.h"
#include "server/engine/training_driver.h"
#include "server/prompts/prompt_model.h"

namespace ptune::engine {

class EngineImpl;

// Hooks for the metrics layer; called on the executor thread (OnBatch,
// OnQueueWait, OnQueueDepth). Must be cheap and thread-safe.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // One forward: rows, real (unpadded) positions, padded / real - 1, and the
  // seconds from collation to results on the host.
  virtual void OnBatch(int rows, int64_t tokens, double padding_ratio,
                       double forward_seconds) {}
  // Seconds a text waited in the queue before its batch started.
  virtual void OnQueueWait(double seconds) {}
  // Texts queued after a batch was taken.
  virtual void OnQueueDepth(int64_t depth) {}
};

struct EngineOptions {
  // Queue bound, batch size/token budget, batch timeout, length window,
  // clock: see batching::BatchSchedulerOptions for what each trades off.
  batching::BatchSchedulerOptions batching;

  // Bytes of resident prompts (prompt + head tensors). Larger keeps more
  // tenants warm (fewer loads, lower tail latency after idle periods) at the
  // cost of device memory taken from activations.
  int64_t prompt_cache_bytes = int64_t{1} << 30;

  // Threads loading prompts on a cache miss. More hide slow storage better
  // when many tenants miss at once; each holds a loaded prompt in memory
  // while it is being inserted.
  int loader_threads = 2;

  // Fraction of executor time training gets while serving has traffic
  // (without traffic it gets all of it). Higher finishes jobs sooner but
  // puts more serving requests behind a training slice
  // (TrainingDriverOptions::max_rows_per_slice / max_tokens_per_slice: ~30
  // ms on the dev CPU). Measured at 50% serving load on 2 CPU cores
  // (tests/bench/README.md §8): p99 1.0-1.2x idle at 0.15, 1.3x at 0.2,
  // 2.1-2.3x at 0.3.
  double training_share = 0.15;

  // The most text tokens per row incl. [CLS]/[SEP]: bounds one row's cost.
  // Each prompt reads texts as it was trained (PromptModel::
  // ReadingMaxTokens: its training max_tokens, 128 by default), never
  // beyond this; an ensemble's members all read the shortest budget.
  int max_tokens = 512;

  // Texts one request may carry; larger requests are INVALID_ARGUMENT.
  int max_texts_per_request = 256;

  // CPU only: when a batch's padding (rows x longest row over real
  // positions, minus 1) exceeds this, the executor runs it as several
  // forwards over rows sorted by length, each within this padding. On a CPU
  // a forward costs in proportion to its positions and small batches lose
  // little GEMM efficiency, so padded positions are pure waste; on a GPU one
  // larger forward is cheaper, so this is ignored there. Negative = never.
  double cpu_max_padding = 0.3;

  // CPU only: the padded positions (rows x longest row) a batch aims for
  // (batching::BatchSchedulerOptions::preferred_batch_tokens, unless that is
  // set). The executor cannot preempt a forward, so this bounds how long
  // another tenant's text waits behind a flooding tenant's batch (unless it
  // is light: light_tenant_rows): smaller cuts that wait but gives each
  // forward less work to amortize its fixed cost. <= 0 = max_batch_tokens.
  // Measured in tests/bench/README.md (flood).
  int cpu_max_forward_tokens = 256;

  // A tenant with at most this many rows queued, none of them in the
  // forward in progress, is light: while that forward's tenants have a
  // backlog, its rows run at the forward's next pause (after an attention or
  // feed-forward block; batching::BatchScheduler rule 5) instead of after
  // it, so a light tenant's text waits for one block of a flooding tenant's
  // forward, not the whole forward. 0 = never preempt. Measured in
  // tests/bench/README.md (flood).
  int light_tenant_rows = 8;

  // Baseline for benchmarks only: split every batch by prompt and run one
  // forward per prompt, as a server batching only same-prompt requests
  // would. Lower throughput with many prompts; never faster.
  bool single_prompt_batches = false;

  // Overlap each batch's device->host read with the next batch: its row
  // outputs go to pinned host memory behind a CUDA event
  // (device::PendingHostCopy) and the executor forms and launches the next
  // batch before it waits on the event and answers the first. Unset = on
  // for a GPU backbone, off on the CPU (there the copy is free and a
  // forward runs on the executor's thread, so waiting for the next batch's
  // forward would only delay answers). Tests set it on the CPU too.
  std::optional<bool> pipeline_batches;

  // How long the executor blocks waiting for a batch before it looks for
  // training work again. Smaller starts training sooner; larger wakes less.
  absl::Duration idle_poll = absl::Milliseconds(10);
};

// Most prompts in one ensemble (ClassifyRequest::ensemble + 1).
inline constexpr int kMaxEnsemblePrompts = 8;

struct ClassifyRequest {
  PromptKey key;
  // More prompts of key's task and label set: each text runs under every
  // member and the answer averages their probabilities (an ensemble).
  std::vector<PromptKey> ensemble;
  std::vector<std::string> texts;
  absl::Time deadline = absl::InfiniteFuture();
  std::shared_ptr<std::atomic<bool>> cancelled;  // optional
};

struct ClassifyResult {
  std::string label;  // the most probable label
  double score = 0;   // its probability
  std::vector<std::pair<std::string, double>> probabilities;  // label order
};

struct ClassifyResponse {
  std::vector<ClassifyResult> results;  // one per text, in request order
};

using TagRequest = ClassifyRequest;

struct Entity {
  std::string type;
  int32_t start = 0;  // code points of the original text, end exclusive
  int32_t end = 0;
  int32_t byte_start = 0;  // UTF-8 bytes of the original text, end exclusive
  int32_t byte_end = 0;
  std::string text;  // the original text's bytes [byte_start, byte_end)
  double score = 0;  // mean probability of the decoded tags of its words
};

struct TagResult {
  std::vector<Entity> entities;
};

struct TagResponse {
  std::vector<TagResult> results;  // one per text, in request order
};

// Scores a prompt (or an ensemble) on labeled data.
struct EvaluateRequest {
  PromptKey key;
  std::vector<PromptKey> ensemble;  // as in ClassifyRequest
  datasets::Dataset data;           // of the prompt's task
  absl::Time deadline = absl::InfiniteFuture();
  std::shared_ptr<std::atomic<bool>> cancelled;  // optional
};

// Executor counters, cumulative since Create.
struct ExecutorStats {
  int64_t batches = 0;    // forwards run for serving
  int64_t rows = 0;       // texts in them
  int64_t real_tokens = 0;    // positions the rows need
  int64_t padded_tokens = 0;  // positions the forwards computed
  double serving_seconds = 0;  // forwards incl. collation and host copy
  int64_t light_forwards = 0;  // of `batches`: run inside another (its pauses)
  // Encoder FLOPs of the serving forwards (flops.h): rows x longest row
  // (text + shallow prompt) plus deep prefixes.
  double forward_flops = 0;
  int64_t training_steps = 0;     // executor turns given to training
  int64_t training_examples = 0;  // rows trained in them (forward + backward)
  double training_seconds = 0;
  double longest_training_turn = 0;  // seconds: what a serving batch may wait
  batching::BatchSchedulerStats scheduler;
};

class Engine {
 public:
  // `loader` and `observer` (may be null) must outlive the engine.
  // `training` options configure the TrainingDriver the engine owns.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(
      const EngineOptions& options,
      std::shared_ptr<const backbone::Backbone> backbone, PromptLoader* loader,
      EngineObserver* observer = nullptr,
      TrainingDriverOptions training = TrainingDriverOptions());
  ~Engine();  // Shutdown()

  // Per text: label, score, probabilities (an ensemble's: their mean over
  // the members). `done` is called exactly once: INVALID_ARGUMENT (no texts,
  // too many (texts x members), not a classification prompt, a text that is
  // not UTF-8, an ensemble of other label sets, a repeated or foreign member), UNAVAILABLE (queue full, shutting down),
  // NOT_FOUND etc. from the loader, DEADLINE_EXCEEDED, CANCELLED.
  void Classify(ClassifyRequest request,
                absl::AnyInvocable<void(absl::StatusOr<ClassifyResponse>)> done);
  // Per text: entity spans (constrained BIO decoding over each word's first
  // sub-word). Errors as Classify (a tagging prompt is required).
  void TagEntities(TagRequest request,
                   absl::AnyInvocable<void(absl::StatusOr<TagResponse>)> done);

  // Scores the prompt (an ensemble: the mean of its members' probabilities)
  // on `data` exactly as training's validation and `ptune-inspect eval` do
  // (training::EvaluationRun): on the executor, one batch of
  // TrainingDriverOptions::max_eval_rows_per_slice rows per turn, in
  // training's share of its time (TrainingDriver::Evaluate). `done` is
  // called exactly once: INVALID_ARGUMENT (a gold label or entity type the
  // prompt lacks, data of the other task, an ensemble as Classify refuses
  // it), NOT_FOUND etc. from the loader, DEADLINE_EXCEEDED, CANCELLED,
  // UNAVAILABLE (shutting down).
  void Evaluate(EvaluateRequest request, EvaluationDone done);
  // The same for models the caller holds (a finished job's best prompt).
  void EvaluateModels(std::vector<std::shared_ptr<const prompts::PromptModel>> models,
                      datasets::Dataset data, EvaluationDone done);

  // Runs a training job on the executor (interleaved with serving); blocks
  // until it ends. See TrainingDriver::Run.
  absl::StatusOr<TrainingOutcome> Train(
      TrainingRequest request,
      std::function<void(const training::EpochReport&)> progress,
      std::function<void(std::string)> checkpoint,
      std::function<bool()> cancelled);

  // Drops a prompt / every prompt of a tenant from the cache (e.g. after the
  // store deleted or replaced it). Batches in flight keep their copy.
  void EvictPrompt(const PromptKey& key);
  void EvictTenant(const std::string& tenant);
  // Loads a prompt into the cache ahead of traffic; `done` (optional) gets
  // the load's status.
  void LoadPrompt(const PromptKey& key,
                  absl::AnyInvocable<void(absl::Status)> done = nullptr);

  CacheStats cache_stats() const;
  ExecutorStats executor_stats() const;

  // How long the executor has been inside its current turn (one serving
  // batch or one training step); zero while it waits for work. Every turn is
  // bounded (batch token budget, training slices), so a long one means the
  // executor is stuck: the server's watchdog turns health NOT_SERVING.
  absl::Duration CurrentExecutorTurn() const;

  // Stops accepting requests (UNAVAILABLE), finishes queued and loading
  // work, and joins the executor and loader threads. Idempotent.
  void Shutdown();

 private:
  explicit Engine(std::unique_ptr<EngineImpl> impl);
  std::unique_ptr<EngineImpl> impl_;
};

}  // namespace ptune::engine

#endif  // PTUNE_SERVER_ENGINE_ENGINE_H_
