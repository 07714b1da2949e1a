#include "server/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <thread>
#include <utility>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/batching/batch_scheduler.h"
#include "server/batching/task.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/datasets/text_util.h"
#include "server/device/device_copy.h"
#include "server/engine/flops.h"
#include "server/prompts/mixed_batch.h"
#include "server/training/bio.h"
#include "server/training/evaluator.h"
#include "server/training/task_batch.h"

namespace ptune::engine {
namespace {

// The state of one Classify/TagEntities call: its per-text results and the
// completion callback, answered exactly once (first failure, or when every
// text is done). Thread-safe.
class RequestState {
 public:
  RequestState(bool tagging, size_t texts, int members,
               std::shared_ptr<std::atomic<bool>> cancelled,
               absl::AnyInvocable<void(absl::StatusOr<ClassifyResponse>)> on_classify,
               absl::AnyInvocable<void(absl::StatusOr<TagResponse>)> on_tag)
      : tagging_(tagging),
        members_(members),
        remaining_(static_cast<int64_t>(texts)),
        cancelled_(std::move(cancelled)),
        on_classify_(std::move(on_classify)),
        on_tag_(std::move(on_tag)) {
    if (tagging_) {
      tag_.results.resize(texts);
    } else {
      classify_.results.resize(texts);
    }
    if (members_ > 1) sums_.resize(texts);
  }

  bool tagging() const { return tagging_; }
  // Prompts each text runs under (> 1: an ensemble).
  int members() const { return members_; }

  // An ensemble member's probabilities for text i (`n` floats); once every
  // member's are in, their mean (else nullopt). Members that disagree on
  // the shape fail the request.
  std::optional<std::vector<float>> AddMember(size_t i, const float* probs, int64_t n) {
    {
      absl::MutexLock lock(&mu_);
      Sum& sum = sums_[i];
      if (sum.members < 0) return std::nullopt;  // already failed
      if (sum.members == 0) {
        sum.values.assign(probs, probs + n);
      } else if (static_cast<int64_t>(sum.values.size()) == n) {
        for (int64_t j = 0; j < n; ++j) sum.values[j] += probs[j];
      } else {
        sum.members = -1;
      }
      if (sum.members >= 0) {
        if (++sum.members < members_) return std::nullopt;
        for (float& v : sum.values) v /= static_cast<float>(members_);
        return std::move(sum.values);
      }
    }
    Fail(absl::InternalError("ensemble members gave outputs of different shapes"));
    return std::nullopt;
  }

  // True once the request failed or its client cancelled: its remaining
  // texts need no forward.
  bool dead() const {
    return failed_.load(std::memory_order_relaxed) ||
           (cancelled_ != nullptr && cancelled_->load(std::memory_order_relaxed));
  }

  void Fail(absl::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (answered_) return;
      answered_ = true;
    }
    failed_.store(true, std::memory_order_relaxed);
    if (tagging_) {
      on_tag_(std::move(status));
    } else {
      on_classify_(std::move(status));
    }
  }

  // Result setters for text i; the last one answers the request.
  void SetClassify(size_t i, ClassifyResult result) {
    {
      absl::MutexLock lock(&mu_);
      classify_.results[i] = std::move(result);
    }
    DoneOne();
  }
  void SetTag(size_t i, TagResult result) {
    {
      absl::MutexLock lock(&mu_);
      tag_.results[i] = std::move(result);
    }
    DoneOne();
  }

 private:
  void DoneOne() {
    {
      absl::MutexLock lock(&mu_);
      if (--remaining_ > 0 || answered_) return;
      answered_ = true;
    }
    if (tagging_) {
      on_tag_(std::move(tag_));
    } else {
      on_classify_(std::move(classify_));
    }
  }

  struct Sum {
    int members = 0;  // -1: shapes disagreed
    std::vector<float> values;
  };

  const bool tagging_;
  const int members_;
  absl::Mutex mu_;
  int64_t remaining_ ABSL_GUARDED_BY(mu_);
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> failed_{false};
  std::shared_ptr<std::atomic<bool>> cancelled_;
  ClassifyResponse classify_;
  TagResponse tag_;
  std::vector<Sum> sums_ ABSL_GUARDED_BY(mu_);  // ensembles: per text
  absl::AnyInvocable<void(absl::StatusOr<ClassifyResponse>)> on_classify_;
  absl::AnyInvocable<void(absl::StatusOr<TagResponse>)> on_tag_;
};

// A request's prompts: its key, then its ensemble members.
std::vector<PromptKey> MemberKeys(const PromptKey& key, const std::vector<PromptKey>& ensemble) {
  std::vector<PromptKey> keys = {key};
  keys.insert(keys.end(), ensemble.begin(), ensemble.end());
  return keys;
}

// One text of a request, as the scheduler queues it.
class TextTask : public batching::Task {
 public:
  TextTask(std::string tenant, int tokens, absl::Time deadline,
           std::shared_ptr<RequestState> request, size_t index,
           PromptCache::Model model, prompts::MixedRow row, std::string text)
      : Task(std::move(tenant), tokens, deadline),
        request(std::move(request)),
        index(index),
        model(std::move(model)),
        row(std::move(row)),
        text(std::move(text)),
        enqueued(absl::Now()) {
    set_is_cancelled([r = this->request.get()] { return r->dead(); });
    set_on_failed(
        [r = this->request](absl::Status status) { r->Fail(std::move(status)); });
  }

  std::shared_ptr<RequestState> request;
  size_t index;
  PromptCache::Model model;  // keeps the prompt alive while queued/in flight
  prompts::MixedRow row;
  std::string text;  // tagging: the original text, for offsets
  absl::Time enqueued;
};

using Scheduler = batching::BatchScheduler<TextTask>;

// Per text code point, its byte offset in the UTF-8 text (size = cps + 1).
std::vector<int32_t> CodePointByteOffsets(const std::u32string& code_points) {
  std::vector<int32_t> offsets(code_points.size() + 1, 0);
  for (size_t i = 0; i < code_points.size(); ++i) {
    const char32_t c = code_points[i];
    const int len = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    offsets[i + 1] = offsets[i] + len;
  }
  return offsets;
}

ClassifyResult DecodeClassify(const prompts::PromptModel& model,
                              const float* probs, int64_t classes) {
  ClassifyResult result;
  const std::vector<std::string>& labels = model.labels();
  int64_t best = 0;
  for (int64_t c = 0; c < classes; ++c) {
    result.probabilities.emplace_back(labels[c], probs[c]);
    if (probs[c] > probs[best]) best = c;
  }
  result.label = labels[best];
  result.score = probs[best];
  return result;
}

// Constrained BIO decoding over each word's first sub-word (as the
// evaluator does), then entity spans with code-point and byte offsets.
TagResult DecodeTag(const prompts::PromptModel& model, const TextTask& task,
                    const float* log_probs, int64_t tokens, int64_t k) {
  const std::u32string code_points = datasets::DecodeUtf8(task.text);
  const std::vector<datasets::Span> words = datasets::PreTokenize(code_points);
  const std::vector<int32_t> first =
      training::FirstTokenOfEachWord(words, task.row.encoding.offsets);
  std::vector<size_t> words_with_token;
  std::vector<float> scores;
  for (size_t w = 0; w < words.size(); ++w) {
    if (first[w] < 0 || first[w] >= tokens) continue;
    words_with_token.push_back(w);
    const float* row = log_probs + static_cast<int64_t>(first[w]) * k;
    scores.insert(scores.end(), row, row + k);
  }
  const std::vector<int> path = training::ConstrainedBioDecode(
      scores, static_cast<int>(words_with_token.size()), model.labels());
  std::vector<std::string> tags(words.size(), "O");
  std::vector<double> word_prob(words.size(), -1.0);
  for (size_t i = 0; i < path.size(); ++i) {
    tags[words_with_token[i]] = model.labels()[path[i]];
    word_prob[words_with_token[i]] = std::exp(scores[i * k + path[i]]);
  }
  const std::vector<int32_t> bytes = CodePointByteOffsets(code_points);
  TagResult result;
  for (const datasets::Span& span : training::TagsToSpans(words, tags)) {
    Entity entity;
    entity.type = span.type;
    entity.start = span.begin;
    entity.end = span.end;
    entity.byte_start = bytes[span.begin];
    entity.byte_end = bytes[span.end];
    entity.text = task.text.substr(entity.byte_start,
                                   entity.byte_end - entity.byte_start);
    double sum = 0;
    int n = 0;
    for (size_t w = 0; w < words.size(); ++w) {
      if (words[w].begin >= span.begin && words[w].end <= span.end &&
          word_prob[w] >= 0) {
        sum += word_prob[w];
        ++n;
      }
    }
    entity.score = n > 0 ? sum / n : 0.0;
    result.entities.push_back(std::move(entity));
  }
  return result;
}

}  // namespace

// The engine's state; Engine forwards to it.
class EngineImpl {
 public:
  EngineImpl(const EngineOptions& options,
             std::shared_ptr<const backbone::Backbone> backbone,
             EngineObserver* observer)
      : options_(options), backbone_(std::move(backbone)), observer_(observer) {}

  absl::Status Init(PromptLoader* loader, TrainingDriverOptions training) {
    if (options_.training_share < 0 || options_.training_share >= 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "training_share must be in [0, 1), got ", options_.training_share));
    }
    if (options_.max_tokens < 3) {
      return absl::InvalidArgumentError("max_tokens must be at least 3");
    }
    if (options_.max_texts_per_request < 1) {
      return absl::InvalidArgumentError("max_texts_per_request must be >= 1");
    }
    batching::BatchSchedulerOptions batching = options_.batching;
    if (backbone_->device().is_cpu() && options_.cpu_max_forward_tokens > 0 &&
        batching.preferred_batch_tokens == 0) {
      batching.preferred_batch_tokens = options_.cpu_max_forward_tokens;
    }
    ASSIGN_OR_RETURN(scheduler_, Scheduler::Create(batching));
    ASSIGN_OR_RETURN(cache_, PromptCache::Create(options_.prompt_cache_bytes,
                                                 options_.loader_threads, loader,
                                                 backbone_->dtype()));
    driver_ = std::make_unique<TrainingDriver>(backbone_, training);
    executor_ = std::thread([this] { ExecutorLoop(); });
    return absl::OkStatus();
  }

  ~EngineImpl() { Shutdown(); }

  void Submit(ClassifyRequest request, bool tagging,
              std::shared_ptr<RequestState> state) {
    if (!BeginSubmit()) {
      state->Fail(absl::UnavailableError("engine shutting down"));
      return;
    }
    const absl::Status valid = Validate(request);
    if (!valid.ok()) {
      state->Fail(valid);
      EndSubmit();
      return;
    }
    // Every member's model, then Enqueue.
    auto pending = std::make_shared<ClassifyRequest>(std::move(request));
    LoadModels(MemberKeys(pending->key, pending->ensemble),
               [this, tagging, state, pending](
                   absl::StatusOr<std::vector<PromptCache::Model>> models) {
                 if (!models.ok()) {
                   state->Fail(models.status());
                 } else {
                   Enqueue(std::move(*pending), tagging, *std::move(models), state);
                 }
                 EndSubmit();
               });
  }

  void Evaluate(EvaluateRequest request, EvaluationDone done) {
    if (!BeginSubmit()) {
      done(absl::UnavailableError("engine shutting down"));
      return;
    }
    const std::vector<PromptKey> keys = MemberKeys(request.key, request.ensemble);
    absl::Status valid = ValidateMembers(keys);
    if (valid.ok() && request.deadline <= Now()) {
      valid = absl::DeadlineExceededError("deadline passed before queueing");
    }
    if (!valid.ok()) {
      done(std::move(valid));
      EndSubmit();
      return;
    }
    auto pending = std::make_shared<EvaluateRequest>(std::move(request));
    auto callback = std::make_shared<EvaluationDone>(std::move(done));
    LoadModels(keys, [this, keys, pending, callback](
                         absl::StatusOr<std::vector<PromptCache::Model>> models) {
      absl::Status checked = models.status();
      if (checked.ok()) {
        checked = CheckMemberModels(keys, *models,
                                    pending->data.task == datasets::Task::kTag);
      }
      if (checked.ok()) checked = training::CheckEvaluationLabels(*models->front(), pending->data);
      if (!checked.ok()) {
        (*callback)(std::move(checked));
      } else {
        StartEvaluation(*std::move(models), std::move(pending->data), pending->deadline,
                        pending->cancelled, std::move(*callback));
      }
      EndSubmit();
    });
  }

  void EvaluateModels(std::vector<PromptCache::Model> models, datasets::Dataset data,
                      EvaluationDone done) {
    if (!BeginSubmit()) {
      done(absl::UnavailableError("engine shutting down"));
      return;
    }
    absl::Status checked = models.empty()
                               ? absl::InvalidArgumentError("no prompt to evaluate")
                               : training::CheckEvaluationLabels(*models.front(), data);
    if (!checked.ok()) {
      done(std::move(checked));
    } else {
      StartEvaluation(std::move(models), std::move(data), absl::InfiniteFuture(), nullptr,
                      std::move(done));
    }
    EndSubmit();
  }

  // Text tokens per row for `models` (one prompt or an ensemble): each
  // reads texts as it was trained, within options_.max_tokens; every member
  // of an ensemble reads the same tokens, the shortest budget.
  int ReadingTokens(const std::vector<PromptCache::Model>& models) const {
    int max_tokens = options_.max_tokens;
    for (const PromptCache::Model& model : models) {
      max_tokens = std::min(max_tokens, model->ReadingMaxTokens());
      if (models.size() > 1) max_tokens = std::min(max_tokens, model->MaxTextTokens(*backbone_));
    }
    return max_tokens;
  }

  // Hands the evaluation to the driver, stopping at the deadline or on
  // cancellation.
  void StartEvaluation(std::vector<PromptCache::Model> models, datasets::Dataset data,
                       absl::Time deadline, std::shared_ptr<std::atomic<bool>> cancelled,
                       EvaluationDone done) {
    EvaluationRequest evaluation;
    evaluation.ensemble = std::move(models);
    evaluation.data = std::move(data);
    evaluation.max_tokens = ReadingTokens(evaluation.ensemble);
    evaluation.should_stop = [this, deadline, cancelled]() -> absl::Status {
      if (cancelled != nullptr && cancelled->load()) {
        return absl::CancelledError("evaluation cancelled");
      }
      if (Now() >= deadline) return absl::DeadlineExceededError("evaluation deadline passed");
      return absl::OkStatus();
    };
    driver_->Evaluate(std::move(evaluation), std::move(done));
  }

  absl::StatusOr<TrainingOutcome> Train(
      TrainingRequest request,
      std::function<void(const training::EpochReport&)> progress,
      std::function<void(std::string)> checkpoint,
      std::function<bool()> cancelled) {
    {
      absl::MutexLock lock(&mu_);
      if (!accepting_) return absl::UnavailableError("engine shutting down");
    }
    return driver_->Run(std::move(request), std::move(progress),
                        std::move(checkpoint), std::move(cancelled));
  }

  PromptCache& cache() { return *cache_; }

  // How long the executor has been inside its current turn (a batch or a
  // training step); zero while it waits for work.
  absl::Duration CurrentTurn() const {
    const int64_t started = turn_started_ns_.load(std::memory_order_relaxed);
    if (started == 0) return absl::ZeroDuration();
    return absl::Now() - absl::FromUnixNanos(started);
  }

  ExecutorStats stats() const {
    ExecutorStats stats;
    {
      absl::MutexLock lock(&stats_mu_);
      stats = stats_;
    }
    stats.scheduler = scheduler_->stats();
    stats.training_examples = driver_->stats().examples;
    return stats;
  }

  void Shutdown() {
    absl::MutexLock shutdown_lock(&shutdown_mu_);
    if (executor_.joinable() == false) return;
    {
      absl::MutexLock lock(&mu_);
      accepting_ = false;
    }
    // Loads in progress finish and queue their texts; queued loads fail.
    cache_->Shutdown();
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &submitting_));
      draining_ = true;
    }
    driver_->Abort(absl::UnavailableError("engine shutting down"));
    executor_.join();
    scheduler_->Shutdown();
  }

 private:
  bool BeginSubmit() {
    absl::MutexLock lock(&mu_);
    if (!accepting_) return false;
    ++submitting_;
    return true;
  }
  void EndSubmit() {
    absl::MutexLock lock(&mu_);
    --submitting_;
  }

  // The scheduler's clock (a FakeClock in tests), for deadlines.
  absl::Time Now() const {
    return options_.batching.clock != nullptr ? options_.batching.clock->Now()
                                              : absl::Now();
  }

  absl::Status Validate(const ClassifyRequest& request) const {
    if (request.texts.empty()) {
      return absl::InvalidArgumentError("request has no texts");
    }
    if (static_cast<int>(request.texts.size()) > options_.max_texts_per_request) {
      return absl::InvalidArgumentError(
          absl::StrCat("request has ", request.texts.size(),
                       " texts; at most ", options_.max_texts_per_request));
    }
    for (size_t i = 0; i < request.texts.size(); ++i) {
      const int64_t bad = datasets::FindInvalidUtf8(request.texts[i]);
      if (bad >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "text ", i, " is not UTF-8 (byte ", bad, ")"));
      }
    }
    RETURN_IF_ERROR(ValidateMembers(MemberKeys(request.key, request.ensemble)));
    const size_t members = request.ensemble.size() + 1;
    if (members > 1 && request.texts.size() * members >
                           static_cast<size_t>(options_.max_texts_per_request)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request has ", request.texts.size(), " texts x ", members,
          " ensemble prompts; texts x prompts may be at most ",
          options_.max_texts_per_request));
    }
    if (request.deadline <= Now()) {
      return absl::DeadlineExceededError("deadline passed before queueing");
    }
    return absl::OkStatus();
  }

  // An ensemble's keys (the request's key first): at most
  // kMaxEnsemblePrompts, one tenant, no repeats.
  static absl::Status ValidateMembers(const std::vector<PromptKey>& keys) {
    if (keys.size() > static_cast<size_t>(kMaxEnsemblePrompts)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "an ensemble has ", keys.size(), " prompts; at most ", kMaxEnsemblePrompts));
    }
    for (size_t m = 1; m < keys.size(); ++m) {
      if (keys[m].tenant != keys.front().tenant) {
        return absl::InvalidArgumentError("ensemble members of another tenant");
      }
      if (std::find(keys.begin(), keys.begin() + m, keys[m]) != keys.begin() + m) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt ", keys[m].DebugString(), " appears twice in the ensemble"));
      }
    }
    return absl::OkStatus();
  }

  // The loaded members are all of the task (tagging or classification) and
  // share the first member's label set, in one order.
  static absl::Status CheckMemberModels(const std::vector<PromptKey>& keys,
                                        const std::vector<PromptCache::Model>& models,
                                        bool tagging) {
    for (size_t m = 0; m < models.size(); ++m) {
      const prompts::PromptModel& model = *models[m];
      if ((model.task() == datasets::Task::kTag) != tagging) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt ", keys[m].DebugString(), " is a ",
            datasets::TaskName(model.task()), " prompt"));
      }
      if (model.labels() != models.front()->labels()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompts ", keys.front().DebugString(), " and ", keys[m].DebugString(),
            " have different label sets ([", absl::StrJoin(models.front()->labels(), ","),
            "] vs [", absl::StrJoin(model.labels(), ","),
            "]); an ensemble needs one label set in one order"));
      }
    }
    return absl::OkStatus();
  }

  // Gets every key's model from the cache; `done` runs once, when the last
  // load finished (on a loader thread or this one), with the models in key
  // order or the first error.
  void LoadModels(const std::vector<PromptKey>& keys,
                  absl::AnyInvocable<void(absl::StatusOr<std::vector<PromptCache::Model>>)> done) {
    struct Loads {
      absl::Mutex mu;
      std::vector<PromptCache::Model> models ABSL_GUARDED_BY(mu);
      size_t remaining ABSL_GUARDED_BY(mu);
      absl::Status error ABSL_GUARDED_BY(mu);
      absl::AnyInvocable<void(absl::StatusOr<std::vector<PromptCache::Model>>)> done;
    };
    auto loads = std::make_shared<Loads>();
    loads->done = std::move(done);
    {
      absl::MutexLock lock(&loads->mu);
      loads->models.resize(keys.size());
      loads->remaining = keys.size();
    }
    for (size_t m = 0; m < keys.size(); ++m) {
      cache_->Get(keys[m], [loads, m](absl::StatusOr<PromptCache::Model> model) {
        std::vector<PromptCache::Model> models;
        absl::Status error;
        {
          absl::MutexLock lock(&loads->mu);
          if (!model.ok()) {
            if (loads->error.ok()) loads->error = model.status();
          } else {
            loads->models[m] = *std::move(model);
          }
          if (--loads->remaining > 0) return;
          models = std::move(loads->models);
          error = loads->error;
        }
        if (!error.ok()) {
          loads->done(std::move(error));
        } else {
          loads->done(std::move(models));
        }
      });
    }
  }

  // Tokenizes the texts for each prompt (one, or an ensemble's members) and
  // queues one task per text and prompt.
  void Enqueue(ClassifyRequest request, bool tagging,
               std::vector<PromptCache::Model> models,
               const std::shared_ptr<RequestState>& state) {
    last_arrival_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
    if (absl::Status members = CheckMemberModels(MemberKeys(request.key, request.ensemble),
                                                 models, tagging);
        !members.ok()) {
      state->Fail(std::move(members));
      return;
    }
    const int max_tokens = ReadingTokens(models);
    if (state->dead()) {
      state->Fail(absl::CancelledError("request cancelled"));
      return;
    }
    const int64_t texts = static_cast<int64_t>(request.texts.size());
    // A tenant over its queue share is refused before its texts cost any
    // tokenization.
    if (absl::Status admissible = scheduler_->CheckAdmission(
            request.key.tenant, texts * static_cast<int64_t>(models.size()));
        !admissible.ok()) {
      state->Fail(std::move(admissible));
      return;
    }
    std::vector<std::unique_ptr<TextTask>> tasks;
    tasks.reserve(texts * models.size());
    for (const PromptCache::Model& model : models) {
      absl::StatusOr<std::vector<prompts::MixedRow>> rows =
          prompts::MakeMixedRows(*backbone_, *model, request.texts, max_tokens);
      if (!rows.ok()) {
        state->Fail(rows.status());
        return;
      }
      const int shallow = model->spec().kind == prompts::PromptKind::kShallow
                              ? model->spec().length
                              : 0;
      for (size_t i = 0; i < rows->size(); ++i) {
        prompts::MixedRow& row = (*rows)[i];
        const int tokens = static_cast<int>(row.encoding.ids.size()) + shallow;
        tasks.push_back(std::make_unique<TextTask>(
            request.key.tenant, tokens, request.deadline, state, i, model,
            std::move(row), tagging ? request.texts[i] : std::string()));
      }
    }
    // All of the request's texts or none: a half-queued request would hold
    // queue room for texts whose answer can only be an error.
    absl::Status scheduled = scheduler_->ScheduleAll(&tasks);
    if (!scheduled.ok()) state->Fail(std::move(scheduled));
  }

  // Serving first: a ready serving batch always runs before training, and
  // training gets `training_share` of the executor's time while serving has
  // traffic (a request arrived within kServingActive):
  //  - both have work: training preempts a ready batch only while it is owed
  //    time (`balance`: share of serving time earned, 1 - share of training
  //    time spent);
  //  - nothing queued: training uses the gap only while its credit
  //    (`gap_credit`: share of wall time, capped) lasts, since a slice that
  //    starts in a gap delays the next arrival by up to one slice;
  //  - no serving traffic: training takes all the time.
  // Each training turn is ONE driver Step, i.e. one slice within
  // TrainingDriverOptions::max_rows_per_slice / max_tokens_per_slice, or one
  // validation batch; a serving batch never waits behind more than one.
  void ExecutorLoop() {
    pipeline_ = options_.pipeline_batches.value_or(backbone_->device().is_cuda());
    const double share = options_.training_share;
    double balance = 0;  // > 0: training is owed time
    double gap_credit = kMaxGapCredit;
    absl::Time credited = absl::Now();
    bool just_trained = false;
    while (true) {
      const bool train = share > 0 && driver_->HasWork();
      if (train && !just_trained && balance > 0) {
        balance -= (1 - share) * RunTrainingStep();
        balance = std::max(balance, -kMaxBalance);
        just_trained = true;
        continue;
      }
      const absl::Time now = absl::Now();
      const bool serving_active =
          now - absl::FromUnixNanos(last_arrival_ns_.load(std::memory_order_relaxed)) <
          kServingActive;
      gap_credit = std::min(kMaxGapCredit,
                            gap_credit + share * absl::ToDoubleSeconds(now - credited));
      credited = now;
      const bool may_use_gap = !serving_active || gap_credit > 0;
      batching::Batch<TextTask> batch;
      if (options_.batching.clock != nullptr) {
        // An injected (fake) clock may not move: NextBatch would wait for
        // it, so poll in real time instead, as the scheduler advises.
        batch = scheduler_->TryFormBatch();
        if (batch.empty() && !(train && may_use_gap)) {
          FinishPending();
          absl::SleepFor(absl::Milliseconds(1));
        }
      } else if (train && may_use_gap) {
        batch = scheduler_->TryFormBatch();
        if (batch.empty() && scheduler_->stats().queue_depth > 0) {
          // Rows are queued but their batch is still filling (batch_timeout):
          // wait for it rather than start a training slice in front of it.
          FinishPending();
          absl::StatusOr<batching::Batch<TextTask>> next =
              scheduler_->NextBatch(options_.batching.batch_timeout);
          if (!next.ok()) break;  // scheduler shut down
          batch = *std::move(next);
        }
      } else {
        // Training ahead of its share (or none): wait for serving, at most
        // until the credit allows a slice again.
        absl::Duration wait = options_.idle_poll;
        if (train) {
          wait = std::min(wait, absl::Seconds(-gap_credit / share) + absl::Microseconds(100));
        }
        if (pending_.has_value()) {
          // A batch is in flight: answer it unless the next one is ready.
          batch = scheduler_->TryFormBatch();
          if (batch.empty()) FinishPending();
        }
        absl::StatusOr<batching::Batch<TextTask>> next =
            batch.empty() ? scheduler_->NextBatch(wait)
                          : absl::StatusOr<batching::Batch<TextTask>>(std::move(batch));
        if (!next.ok()) break;  // scheduler shut down
        batch = *std::move(next);
      }
      just_trained = false;
      if (!batch.empty()) {
        const double seconds = RunBatch(batch);
        if (train) balance = std::min(balance + share * seconds, kMaxBalance);
        continue;
      }
      if (train && may_use_gap) {
        // Nothing to serve: training takes the gap. Only a gap between
        // requests costs credit and balance: time training takes while
        // there is no traffic at all is free, so it is no debt that starves
        // training for seconds once traffic returns.
        const double seconds = RunTrainingStep();
        if (serving_active) {
          gap_credit -= seconds;
          balance -= (1 - share) * seconds;
          balance = std::max(balance, -kMaxBalance);
        }
        just_trained = true;
        continue;
      }
      if (train) continue;
      balance = 0;
      absl::MutexLock lock(&mu_);
      if (draining_ && scheduler_->stats().queue_depth == 0) break;
    }
    FinishPending();
  }

  // Marks the executor busy for the lifetime of the guard (CurrentTurn).
  class TurnGuard {
   public:
    explicit TurnGuard(std::atomic<int64_t>* started) : started_(started) {
      started_->store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
    }
    ~TurnGuard() { started_->store(0, std::memory_order_relaxed); }

   private:
    std::atomic<int64_t>* const started_;
  };

  // Answers the launched batch, if any.
  void FinishPending() {
    if (!pending_.has_value()) return;
    InFlight flight = *std::move(pending_);
    pending_.reset();
    FinishRows(std::move(flight));
  }

  double RunTrainingStep() {
    FinishPending();
    const absl::Time start = absl::Now();
    TurnGuard turn(&turn_started_ns_);
    driver_->Step();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    absl::MutexLock lock(&stats_mu_);
    ++stats_.training_steps;
    stats_.training_seconds += seconds;
    stats_.longest_training_turn = std::max(stats_.longest_training_turn, seconds);
    return seconds;
  }

  // Runs one scheduled batch; returns its seconds.
  double RunBatch(batching::Batch<TextTask>& batch) {
    const absl::Time start = absl::Now();
    TurnGuard turn(&turn_started_ns_);
    std::vector<std::unique_ptr<TextTask>>& tasks = batch.tasks();
    if (observer_ != nullptr) {
      for (const auto& task : tasks) {
        observer_->OnQueueWait(absl::ToDoubleSeconds(start - task->enqueued));
      }
      observer_->OnQueueDepth(scheduler_->stats().queue_depth);
    }
    if (!options_.single_prompt_batches) {
      if (backbone_->device().is_cpu() && options_.cpu_max_padding >= 0) {
        for (auto& group : SplitForCpu(tasks, options_.cpu_max_padding)) {
          RunRows(group);
        }
      } else if (pipeline_) {
        // Launch this batch, then answer the previous one: its outputs were
        // copied ahead of this forward on the stream, so the host reads
        // them while the device runs this batch.
        InFlight launched = LaunchRows(tasks);
        FinishPending();
        pending_ = std::move(launched);
      } else {
        RunRows(tasks);
      }
    } else {
      // Naive baseline: one forward per distinct prompt.
      absl::flat_hash_map<const prompts::PromptModel*, size_t> group_of;
      std::vector<std::vector<std::unique_ptr<TextTask>>> groups;
      for (auto& task : tasks) {
        auto [it, inserted] = group_of.try_emplace(task->model.get(), groups.size());
        if (inserted) groups.emplace_back();
        groups[it->second].push_back(std::move(task));
      }
      for (auto& group : groups) RunRows(group);
    }
    return absl::ToDoubleSeconds(absl::Now() - start);
  }

  // The CPU plan of one batch: rows ordered lightest tenant first (fewest
  // rows in this batch), then by length, and cut greedily into forwards
  // whose padding (rows x longest / real - 1) stays within `max_padding`; a
  // tenant with more than twice the rows of the forward's first tenant
  // starts a new one. Each forward answers its rows when it ends, so a light
  // tenant's text runs in a small forward of its own ahead of a flooding
  // tenant's rows (on a CPU a forward costs in proportion to its positions,
  // so the split costs little).
  static std::vector<std::vector<std::unique_ptr<TextTask>>> SplitForCpu(
      std::vector<std::unique_ptr<TextTask>>& tasks, double max_padding) {
    absl::flat_hash_map<std::string, int> rows_of;
    for (const auto& task : tasks) ++rows_of[task->tenant()];
    std::stable_sort(tasks.begin(), tasks.end(),
                     [&rows_of](const std::unique_ptr<TextTask>& a,
                                const std::unique_ptr<TextTask>& b) {
                       const int ra = rows_of[a->tenant()], rb = rows_of[b->tenant()];
                       return ra != rb ? ra < rb : a->tokens() < b->tokens();
                     });
    std::vector<std::vector<std::unique_ptr<TextTask>>> groups;
    int64_t real = 0, longest = 0;
    int group_weight = 0;  // rows of the first tenant of the current group
    for (auto& task : tasks) {
      const int64_t tokens = task->tokens();
      const int weight = rows_of[task->tenant()];
      // A tenant with many more rows than the group's first one starts its
      // own forward, so light tenants' rows are answered first.
      if (!groups.empty() && weight <= 2 * group_weight) {
        const int64_t rows = static_cast<int64_t>(groups.back().size()) + 1;
        const int64_t next_longest = std::max(longest, tokens);
        const double padding =
            static_cast<double>(rows * next_longest) / (real + tokens) - 1.0;
        if (padding <= max_padding) {
          real += tokens;
          longest = next_longest;
          groups.back().push_back(std::move(task));
          continue;
        }
      }
      groups.emplace_back();
      groups.back().push_back(std::move(task));
      real = longest = tokens;
      group_weight = weight;
    }
    return groups;
  }

  // At a pause of a forward over `busy` tenants' rows (between its layers
  // and their attention and feed-forward blocks): runs the
  // rows of light tenants queued meanwhile (BatchScheduler rule 5) in a
  // forward of their own, which is not preempted in turn.
  void RunLightRows(const std::vector<std::string>& busy) {
    batching::Batch<TextTask> light =
        scheduler_->TakeLightRows(busy, options_.light_tenant_rows);
    if (light.empty()) return;
    const absl::Time start = absl::Now();
    if (observer_ != nullptr) {
      for (const auto& task : light.tasks()) {
        observer_->OnQueueWait(absl::ToDoubleSeconds(start - task->enqueued));
      }
    }
    in_light_forward_ = true;
    RunRows(light.tasks());
    in_light_forward_ = false;
    light_seconds_ += absl::ToDoubleSeconds(absl::Now() - start);
    absl::MutexLock lock(&stats_mu_);
    ++stats_.light_forwards;
  }

  // Removes rows whose request is dead, failing those whose deadline passed
  // with DEADLINE_EXCEEDED first.
  void DropFinished(std::vector<std::unique_ptr<TextTask>>& tasks) {
    const absl::Time now = Now();
    tasks.erase(std::remove_if(tasks.begin(), tasks.end(),
                               [now](const std::unique_ptr<TextTask>& t) {
                                 if (!t->request->dead() && t->deadline() <= now) {
                                   t->request->Fail(absl::DeadlineExceededError(
                                       "deadline passed while waiting for the device"));
                                 }
                                 return t->request->dead();
                               }),
                tasks.end());
  }

  // A forward launched on the device whose row outputs are on their way to
  // the host.
  struct InFlight {
    std::vector<std::unique_ptr<TextTask>> tasks;
    absl::Status status;  // not OK: every task fails with it
    std::optional<prompts::MixedBatch> mixed;
    std::vector<int64_t> offsets;  // each row's first value in the outputs
    device::PendingHostCopy outputs;
    absl::Time start;
    double light_before = 0;  // light_seconds_ when it started
  };

  // One forward over `tasks` (their own prompts), heads, one device->host
  // copy, decoding and completion.
  void RunRows(std::vector<std::unique_ptr<TextTask>>& tasks) {
    FinishRows(LaunchRows(tasks));
  }

  // Launches the forward and heads of `tasks` and the copy of their outputs
  // to the host; takes the tasks.
  InFlight LaunchRows(std::vector<std::unique_ptr<TextTask>>& tasks) {
    InFlight flight;
    // A request that failed, was cancelled or ran out of time after
    // batching (e.g. behind the other groups of a split batch) needs no work.
    DropFinished(tasks);
    flight.tasks = std::move(tasks);
    tasks.clear();
    if (flight.tasks.empty()) return flight;
    flight.start = absl::Now();
    flight.light_before = light_seconds_;
    c10::InferenceMode inference;
    std::vector<prompts::MixedRow> rows;
    rows.reserve(flight.tasks.size());
    for (auto& task : flight.tasks) rows.push_back(task->row);
    absl::StatusOr<prompts::MixedBatch> mixed =
        prompts::MakeMixedBatch(*backbone_, std::move(rows), /*training=*/false);
    if (!mixed.ok()) {
      flight.status = mixed.status();
      return flight;
    }
    flight.mixed = *std::move(mixed);
    std::vector<std::string> busy;  // this forward's tenants
    if (options_.light_tenant_rows > 0 && !in_light_forward_) {
      for (const auto& task : flight.tasks) {
        if (std::find(busy.begin(), busy.end(), task->tenant()) == busy.end()) {
          busy.push_back(task->tenant());
        }
      }
      flight.mixed->input.pause = [this, &busy] { RunLightRows(busy); };
    }
    absl::StatusOr<std::vector<at::Tensor>> logits =
        prompts::MixedLogits(*backbone_, *flight.mixed, /*training=*/false);
    flight.mixed->input.pause = nullptr;  // `busy` ends here
    if (!logits.ok()) {
      flight.status = logits.status();
      return flight;
    }
    // Probabilities (classify) or log-probabilities (tag) of every row,
    // flattened into one tensor: one copy, one wait.
    flight.status = common::TorchCall("row outputs", [&] {
      std::vector<at::Tensor> flat;
      int64_t offset = 0;
      for (size_t r = 0; r < logits->size(); ++r) {
        const at::Tensor& l = (*logits)[r];
        // Ensembles average probabilities, also when tagging.
        const RequestState& request = *flight.tasks[r]->request;
        at::Tensor out = request.tagging() && request.members() == 1
                             ? l.to(at::kFloat).log_softmax(-1)
                             : l.to(at::kFloat).softmax(-1);
        flight.offsets.push_back(offset);
        offset += out.numel();
        flat.push_back(out.reshape({-1}));
      }
      flight.outputs = device::StartHostCopy(at::cat(flat));
    });
    return flight;
  }

  // Waits for `flight`'s outputs, then decodes and answers its rows.
  void FinishRows(InFlight flight) {
    std::vector<std::unique_ptr<TextTask>>& tasks = flight.tasks;
    if (tasks.empty()) return;
    absl::StatusOr<at::Tensor> host =
        flight.status.ok() ? common::TorchCall("reading row outputs",
                                               [&] { return flight.outputs.Wait(); })
                           : absl::StatusOr<at::Tensor>(flight.status);
    if (!host.ok()) {
      for (auto& task : tasks) task->request->Fail(host.status());
      return;
    }
    const prompts::MixedBatch* mixed = &*flight.mixed;
    const std::vector<int64_t>& offsets = flight.offsets;
    // The light forwards run inside this one count for themselves.
    const double seconds = absl::ToDoubleSeconds(absl::Now() - flight.start) -
                           (light_seconds_ - flight.light_before);
    int64_t longest = 0, prefix = 0;
    for (const auto& task : tasks) {
      longest = std::max<int64_t>(longest, task->tokens());
      if (task->model->spec().kind == prompts::PromptKind::kDeep) {
        prefix = std::max<int64_t>(prefix, task->model->spec().length);
      }
    }
    {
      absl::MutexLock lock(&stats_mu_);
      stats_.forward_flops += EncoderForwardFlops(
          backbone_->config(), static_cast<int64_t>(tasks.size()), longest,
          prefix);
      ++stats_.batches;
      stats_.rows += static_cast<int64_t>(tasks.size());
      stats_.real_tokens += mixed->real_tokens;
      stats_.padded_tokens += mixed->padded_tokens;
      stats_.serving_seconds += seconds;
    }
    if (observer_ != nullptr) {
      observer_->OnBatch(static_cast<int>(tasks.size()), mixed->real_tokens,
                         mixed->padding_ratio(), seconds);
    }
    const float* data = host->data_ptr<float>();
    const absl::Time now = Now();
    for (size_t r = 0; r < tasks.size(); ++r) {
      TextTask& task = *tasks[r];
      // Decoding is the last stage: a row whose deadline passed during the
      // forward is answered DEADLINE_EXCEEDED, as its client expects.
      if (task.deadline() <= now) {
        task.request->Fail(
            absl::DeadlineExceededError("deadline passed during the forward"));
        continue;
      }
      if (task.request->dead()) continue;
      const prompts::PromptModel& model = *task.model;
      const int64_t k = static_cast<int64_t>(model.labels().size());
      if (task.request->members() > 1) {
        const int64_t n = task.request->tagging() ? mixed->text_lengths[r] * k : k;
        std::optional<std::vector<float>> mean =
            task.request->AddMember(task.index, data + offsets[r], n);
        if (!mean.has_value()) continue;  // members outstanding (or failed)
        if (task.request->tagging()) {
          for (float& p : *mean) p = std::log(std::max(p, 1e-12f));
          task.request->SetTag(task.index, DecodeTag(model, task, mean->data(),
                                                     mixed->text_lengths[r], k));
        } else {
          task.request->SetClassify(task.index, DecodeClassify(model, mean->data(), k));
        }
        continue;
      }
      if (task.request->tagging()) {
        const int64_t t = mixed->text_lengths[r];
        task.request->SetTag(task.index,
                             DecodeTag(model, task, data + offsets[r], t, k));
      } else {
        task.request->SetClassify(task.index,
                                  DecodeClassify(model, data + offsets[r], k));
      }
    }
  }

  static constexpr double kMaxBalance = 0.5;  // seconds of owed/banked time
  // Serving counts as active this long after a request arrived.
  static constexpr absl::Duration kServingActive = absl::Seconds(1);
  // Gap credit saved while training waits: about one slice.
  static constexpr double kMaxGapCredit = 0.05;

  const EngineOptions options_;
  const std::shared_ptr<const backbone::Backbone> backbone_;
  EngineObserver* const observer_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<PromptCache> cache_;
  std::unique_ptr<TrainingDriver> driver_;
  std::thread executor_;

  absl::Mutex shutdown_mu_;
  mutable absl::Mutex mu_;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int submitting_ ABSL_GUARDED_BY(mu_) = 0;  // Submit calls not yet queued
  // When the latest request was queued (executor: is serving active?).
  std::atomic<int64_t> last_arrival_ns_{0};
  // When the executor's current turn began (unix ns); 0 while it waits.
  std::atomic<int64_t> turn_started_ns_{0};
  // Executor thread only: inside a light forward (RunLightRows), and the
  // seconds all light forwards took so far.
  bool in_light_forward_ = false;
  double light_seconds_ = 0;
  // Executor thread only: whether batches overlap (pipeline_batches), and the
  // launched batch whose outputs are still on their way to the host.
  bool pipeline_ = false;
  std::optional<InFlight> pending_;

  mutable absl::Mutex stats_mu_;
  ExecutorStats stats_ ABSL_GUARDED_BY(stats_mu_);
};

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(
    const EngineOptions& options,
    std::shared_ptr<const backbone::Backbone> backbone, PromptLoader* loader,
    EngineObserver* observer, TrainingDriverOptions training) {
  if (backbone == nullptr) return absl::InvalidArgumentError("null backbone");
  auto impl = std::make_unique<EngineImpl>(options, std::move(backbone), observer);
  RETURN_IF_ERROR(impl->Init(loader, training));
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<EngineImpl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Shutdown(); }

void Engine::Classify(
    ClassifyRequest request,
    absl::AnyInvocable<void(absl::StatusOr<ClassifyResponse>)> done) {
  auto state = std::make_shared<RequestState>(
      /*tagging=*/false, request.texts.size(),
      static_cast<int>(request.ensemble.size()) + 1, request.cancelled,
      std::move(done), nullptr);
  impl_->Submit(std::move(request), /*tagging=*/false, std::move(state));
}

void Engine::TagEntities(
    TagRequest request,
    absl::AnyInvocable<void(absl::StatusOr<TagResponse>)> done) {
  auto state = std::make_shared<RequestState>(
      /*tagging=*/true, request.texts.size(),
      static_cast<int>(request.ensemble.size()) + 1, request.cancelled, nullptr,
      std::move(done));
  impl_->Submit(std::move(request), /*tagging=*/true, std::move(state));
}

void Engine::Evaluate(EvaluateRequest request, EvaluationDone done) {
  impl_->Evaluate(std::move(request), std::move(done));
}

void Engine::EvaluateModels(std::vector<std::shared_ptr<const prompts::PromptModel>> models,
                            datasets::Dataset data, EvaluationDone done) {
  impl_->EvaluateModels(std::move(models), std::move(data), std::move(done));
}

absl::StatusOr<TrainingOutcome> Engine::Train(
    TrainingRequest request,
    std::function<void(const training::EpochReport&)> progress,
    std::function<void(std::string)> checkpoint,
    std::function<bool()> cancelled) {
  return impl_->Train(std::move(request), std::move(progress),
                      std::move(checkpoint), std::move(cancelled));
}

void Engine::EvictPrompt(const PromptKey& key) { impl_->cache().Evict(key); }

void Engine::EvictTenant(const std::string& tenant) {
  impl_->cache().EvictTenant(tenant);
}

void Engine::LoadPrompt(const PromptKey& key,
                        absl::AnyInvocable<void(absl::Status)> done) {
  impl_->cache().Get(key, [done = std::move(done)](
                              absl::StatusOr<PromptCache::Model> model) mutable {
    if (done) done(model.status());
  });
}

CacheStats Engine::cache_stats() const { return impl_->cache().stats(); }

ExecutorStats Engine::executor_stats() const { return impl_->stats(); }

absl::Duration Engine::CurrentExecutorTurn() const { return impl_->CurrentTurn(); }

void Engine::Shutdown() { impl_->Shutdown(); }

}  // namespace ptune::engine
