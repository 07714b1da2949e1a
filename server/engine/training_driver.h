// TrainingDriver: training jobs run on the engine's device executor,
// interleaved with serving. Run() (any thread) enqueues a job and blocks;
// the executor calls Step() whenever it grants training a turn of device
// time, and each Step runs ONE forward/backward of at most
// `max_rows_per_slice` rows / `max_tokens_per_slice` tokens: either one
// slice of every active job in a mixed
// batch (training::MultiJobTrainer: the backbone is frozen, so each row's
// gradient reaches only its own prompt and head) or one slice of one job,
// the jobs taking turns. A job's optimizer steps after the last slice of its
// batch (gradient accumulation, training::TrainingJob). Which mode
// runs is measured: with two or more jobs active the driver times a few
// steps of each and keeps the one with more examples/s (re-measured when the
// set of jobs changes), unless TrainingDriverOptions::mode forces one.
// Validation at an epoch's end also runs inside Step, one batch of at most
// `max_eval_rows_per_slice` rows per call, so serving runs in between; so
// do evaluations asked for with Evaluate (EvaluatePrompt, a job's test
// data), taking turns with the training steps.
//
// For benchmarks without an engine, training::MeasureTrainingModes
// (server/training/multi_job_trainer.h) times both modes over given jobs;
// bench-serve reports its figures as train_batched_eps / train_turns_eps.
//
// Thread-safety: Run, HasWork, Abort and stats are thread-safe; Step must be
// called from one thread at a time (the executor). Ownership: the driver
// shares the backbone; each job's models belong to the driver until Run
// returns the best one to its caller.
#ifndef PTUNE_SERVER_ENGINE_TRAINING_DRIVER_H_
#define PTUNE_SERVER_ENGINE_TRAINING_DRIVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_model.h"
#include "server/prompts/prompt_spec.h"
#include "server/training/evaluator.h"
#include "server/training/trainer.h"

namespace ptune::engine {

// A further task of multi-task prompt pre-training (TrainingRequest::
// auxiliary): its training data and labels train the request's prompt
// through a head of its own (training::TrainingJob).
struct AuxiliaryTraining {
  datasets::Task task = datasets::Task::kClassify;
  std::vector<std::string> labels;  // as TrainingRequest::labels
  datasets::Dataset train;
};

struct TrainingRequest {
  datasets::Task task = datasets::Task::kClassify;
  // Classification labels, or the BIO label set for tagging (empty = derived
  // from `train`, training::ModelLabels).
  std::vector<std::string> labels;
  prompts::PromptSpec spec;
  training::TrainOptions options;  // checkpoint_path is ignored: see Run
  datasets::Dataset train, valid;
  // For spec.init = prompt: the source prompt (spec.init_prompt, a folder,
  // is used when this is null).
  std::shared_ptr<const prompts::PromptModel> init_prompt;
  std::string resume_checkpoint;  // bytes of a checkpoint; empty = fresh
  // Multi-task pre-training: tasks whose examples train the same prompt
  // alongside `train`. Each reads the texts as `spec` says, except that a
  // tagging task has no template; its head starts from `options.seed` + its
  // position, without a verbalizer, and is discarded when the run ends.
  std::vector<AuxiliaryTraining> auxiliary;
};

struct TrainingOutcome {
  training::TrainResult result;
  std::unique_ptr<prompts::PromptModel> model;  // the best epoch's parameters
  // {"valid_metric", "best_epoch", "epochs", "examples_per_second", and the
  // evaluator's metrics of the best epoch: "accuracy"/"macro_f1" or
  // "precision"/"recall"/"f1"/"per_type"}.
  nlohmann::json metrics;
};

// Scores prompts on labeled data (training::EvaluationRun) on the executor.
struct EvaluationRequest {
  // One prompt, or an ensemble of one task and label set.
  std::vector<std::shared_ptr<const prompts::PromptModel>> ensemble;
  datasets::Dataset data;
  int max_tokens = 128;  // text tokens per example, as training's
  // Polled before each batch (may be null): a non-OK status (deadline
  // passed, caller gone) ends the evaluation with that status.
  std::function<absl::Status()> should_stop;
};

using EvaluationDone = absl::AnyInvocable<void(absl::StatusOr<training::Evaluation>)>;

enum class TrainingMode {
  kAuto,     // measure both on the first steps, keep the faster
  kBatched,  // all active jobs in one forward/backward
  kTurns,    // one job's step after another
};

struct TrainingDriverOptions {
  // kAuto picks per measurement; force one for benchmarks or debugging.
  TrainingMode mode = TrainingMode::kAuto;
  // Steps timed per mode before kAuto chooses. More steps average out noise
  // (batches differ in length) but run the slower mode longer.
  int probe_steps = 3;
  // Rows above which a batched step is split into turns anyway: bounds the
  // activation memory of one forward/backward (and the serving pause).
  int max_batched_rows = 512;
  // The size of one Step() call's forward/backward: a job's batch runs as
  // gradient-accumulation slices (the optimizer steps after the last; the
  // result equals the unsliced step up to float rounding), so a serving
  // batch waits behind one slice, not one whole step. A slice holds at most
  // `max_rows_per_slice` rows and, beyond its first row, at most
  // `max_tokens_per_slice` text tokens (a slice's time grows with its
  // tokens). Batched mode gives each of n jobs max(1, limit / n) of each per
  // Step. Smaller cuts serving's tail latency while training runs; larger
  // trains faster (bigger GEMMs, fewer per-slice overheads).
  // 0 = no limit (both 0 = whole batches). Defaults measured on a 2-core CPU
  // with bench-serve (tests/bench/README.md §7): 32 tokens (about one SST-2
  // sentence, ~70 ms a slice) kept serving p99 within 1.5x of idle; 64
  // tokens gave 3x, whole 16-row batches 10x.
  int max_rows_per_slice = 8;
  int max_tokens_per_slice = 32;
  // Rows of one epoch-end validation batch per Step (inference costs about
  // a third of a training row's forward + backward). 0 = the job's
  // eval_batch_size.
  int max_eval_rows_per_slice = 16;

  // The slice sizes for `device`: on a CPU the measured defaults above (a
  // slice is ~30-70 ms of a 2-core CPU); on a GPU, where one forward of
  // many rows costs little more than one of a few, 64 rows / 4096 tokens /
  // 256 evaluation rows (estimates until a GPU run measures them:
  // tests/bench/README.md).
  static TrainingDriverOptions ForDevice(const c10::Device& device);
};

// FAILED_PRECONDITION for a backbone dtype training does not support:
// float16 (no loss scaling: small gradients would underflow to zero), with
// what to do instead; OK for float32 and bfloat16 (float32 master weights,
// bfloat16 forwards).
absl::Status CheckTrainableDtype(at::ScalarType dtype);

class TrainingDriver {
 public:
  TrainingDriver(std::shared_ptr<const backbone::Backbone> backbone,
                 TrainingDriverOptions options = TrainingDriverOptions());
  ~TrainingDriver();  // jobs still running end with UNAVAILABLE

  TrainingDriver(const TrainingDriver&) = delete;
  TrainingDriver& operator=(const TrainingDriver&) = delete;

  // Blocks until the job ends. Its steps run when the executor calls Step().
  // `progress` gets each epoch's report and `checkpoint` the bytes of the
  // epoch-end checkpoint (both called on the executor thread; may be null).
  // `cancelled` (may be null) is polled between steps: a cancelled job ends
  // with absl::CancelledError (no model). Errors: INVALID_ARGUMENT (bad
  // request or checkpoint), INTERNAL (divergence), UNAVAILABLE (Abort or
  // destruction).
  absl::StatusOr<TrainingOutcome> Run(
      TrainingRequest request,
      std::function<void(const training::EpochReport&)> progress,
      std::function<void(std::string)> checkpoint,
      std::function<bool()> cancelled);

  // Queues an evaluation: one batch of `max_eval_rows_per_slice` rows (64
  // when 0) per Step, alternating with training steps while jobs run.
  // `done` is called exactly once: on the executor thread, or on this
  // thread for a request EvaluationRun refuses (INVALID_ARGUMENT) or after
  // Abort (its status).
  void Evaluate(EvaluationRequest request, EvaluationDone done);

  // True while some job waits for a step or an evaluation.
  bool HasWork() const;

  // One unit of training work: one slice of every active job in one
  // forward/backward (batched), or one slice of the next job in turn — the
  // driver decides from measurements — or one validation batch of a job
  // whose epoch ended, or one batch of a queued evaluation. Executor thread
  // only.
  void Step();

  // Ends every job with `status` (e.g. at engine shutdown).
  void Abort(const absl::Status& status);

  struct Stats {
    int64_t steps = 0;            // Step calls that did work
    int64_t examples = 0;         // training rows processed (forward/backward)
    int64_t evaluated = 0;        // rows scored by Evaluate calls
    // Latest measured examples/s of each way with 2+ jobs (0 = not yet).
    double batched_eps = 0;
    double turns_eps = 0;
    TrainingMode current = TrainingMode::kTurns;
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptune::engine

#endif  // PTUNE_SERVER_ENGINE_TRAINING_DRIVER_H_
