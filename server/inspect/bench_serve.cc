// bench-serve: the serving engine under load, all figures from one run (the
// machine's state drifts between runs; ratios within one run do not).
//  - closed loop (N clients, each sending one text, waiting for its answer,
//    sending the next; texts drawn from SST-2 sentences): one prompt, a
//    stream over many distinct shallow prompts of mixed lengths, the same
//    with deep prompts, and a naive baseline that only batches rows of the
//    same prompt (EngineOptions::single_prompt_batches); the first three in
//    alternating windows (--rounds), so machine drift hits them alike;
//  - padding of a burst with and without length grouping;
//  - open-loop Poisson arrivals at half the mixed stream's throughput: p50 /
//    p99 latency idle and while one training job runs on the executor, in
//    alternating idle / training windows;
//  - four tenants' training jobs batched vs in turns (examples/s);
//  - achieved GFLOP/s of the mixed run (counted FLOPs / forward time) next to
//    the GEMM rate measured in the same run.
// Ends with ONE JSON line holding every figure.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/datasets/dataset.h"
#include "server/engine/engine.h"
#include "server/inspect/bench_util.h"
#include "server/inspect/commands.h"
#include "server/inspect/flags.h"
#include "server/text/tokenizer.h"
#include "server/training/multi_job_trainer.h"
#include "server/training/task_batch.h"

ABSL_FLAG(double, phase_seconds, 8.0,
          "bench-serve: measuring time of each load phase (after a warm-up "
          "of a quarter of it).");
ABSL_FLAG(int, clients, 32, "bench-serve: closed-loop client threads.");
ABSL_FLAG(int, light_tenant_rows, 8,
          "bench-serve: EngineOptions::light_tenant_rows (0: never preempt a forward).");
ABSL_FLAG(int, cpu_max_forward_tokens, 256,
          "bench-serve: EngineOptions::cpu_max_forward_tokens (<= 0: batches up to "
          "max_batch_tokens).");
ABSL_FLAG(int, prompts, 1000,
          "bench-serve: distinct prompts in the mixed streams (each its own "
          "tenant).");
ABSL_FLAG(std::string, sentences,
          "../shared/data/cls/sst2/dev.tsv,../shared/data/cls/sst2/test-labeled.tsv",
          "bench-serve: comma-separated SST-2 TSV files whose sentences are "
          "the request texts (and the training data of the training phases).");
ABSL_FLAG(int, burst, 1024,
          "bench-serve: texts queued at once to measure padding with and "
          "without length grouping.");
ABSL_FLAG(int, train_steps, 4,
          "bench-serve: optimizer steps per mode for train_batched_eps / "
          "train_turns_eps (0 = skip).");
ABSL_FLAG(double, training_share, 0.15,
          "bench-serve: EngineOptions::training_share (the server's "
          "--training_share): training's share of executor time while "
          "serving has traffic.");
ABSL_FLAG(int, rounds, 4,
          "bench-serve: windows per phase; phases compared with each other "
          "(one prompt / many prompts / deep; idle / training) run in "
          "alternating windows so that drift in the machine's speed hits "
          "them alike.");
ABSL_FLAG(bool, training_phase, true,
          "bench-serve: measure p99 while a training job runs.");
ABSL_FLAG(int, train_slice_rows, -1,
          "bench-serve: TrainingDriverOptions::max_rows_per_slice of the "
          "engine's training (rows per executor training turn; 0 = no limit, "
          "-1 = the default).");
ABSL_FLAG(int, train_slice_tokens, -1,
          "bench-serve: TrainingDriverOptions::max_tokens_per_slice (text "
          "tokens per executor training turn; 0 = no limit, -1 = the "
          "default). Both 0 = whole batches.");

namespace ptune::inspect {
namespace {

using engine::ClassifyRequest;
using engine::ClassifyResponse;
using engine::Engine;
using engine::EngineOptions;
using engine::ExecutorStats;
using engine::PromptKey;

constexpr int kLengths[] = {4, 8, 12, 16, 20};
constexpr int kSingleLength = 12;  // the mean of kLengths

// Random-init prompts named by key: "single" (shallow, kSingleLength),
// "s<i>" (shallow, kLengths[i % 5]) and "d<i>" (deep, kLengths[i % 5]).
class BenchLoader : public engine::PromptLoader {
 public:
  explicit BenchLoader(const backbone::Backbone& backbone) : backbone_(backbone) {}

  absl::StatusOr<std::unique_ptr<prompts::PromptModel>> Load(
      const PromptKey& key) override {
    prompts::PromptSpec spec;
    spec.init = prompts::PromptInit::kRandom;
    spec.kind = prompts::PromptKind::kShallow;
    spec.length = kSingleLength;
    uint64_t seed = 7;
    if (key.name != "single") {
      const int i = std::stoi(key.name.substr(1));
      spec.kind = key.name[0] == 'd' ? prompts::PromptKind::kDeep
                                     : prompts::PromptKind::kShallow;
      spec.length = kLengths[i % 5];
      seed = 1000 + i;
    }
    return prompts::PromptModel::Create(backbone_, datasets::Task::kClassify,
                                        {"0", "1"}, spec, seed);
  }

 private:
  const backbone::Backbone& backbone_;
};

PromptKey SingleKey() { return {"tenant0", "single", 1}; }
PromptKey StreamKey(char kind, int i) {
  return {absl::StrCat("tenant", i), absl::StrCat(std::string(1, kind), i), 1};
}

using Picker = std::function<PromptKey(std::mt19937&)>;

// Executor counters over measuring windows: after - before of each window,
// summed over the windows of a phase.
struct Counters {
  double batches = 0, rows = 0, serving_seconds = 0, forward_flops = 0;
  double scheduler_batches = 0, real_tokens = 0, padded_tokens = 0;
  double training_steps = 0, training_seconds = 0;

  // The executor's cumulative counters as of `stats`.
  static Counters Of(const ExecutorStats& stats) {
    return {.batches = static_cast<double>(stats.batches),
            .rows = static_cast<double>(stats.rows),
            .serving_seconds = stats.serving_seconds,
            .forward_flops = stats.forward_flops,
            .scheduler_batches = static_cast<double>(stats.scheduler.batches),
            .real_tokens = static_cast<double>(stats.scheduler.real_tokens),
            .padded_tokens = static_cast<double>(stats.scheduler.padded_tokens),
            .training_steps = static_cast<double>(stats.training_steps),
            .training_seconds = stats.training_seconds};
  }
  void AddWindow(const ExecutorStats& before, const ExecutorStats& after) {
    Add(Of(after));
    Add(Of(before), -1);
  }
  void Add(const Counters& other, double sign = 1) {
    batches += sign * other.batches;
    rows += sign * other.rows;
    serving_seconds += sign * other.serving_seconds;
    forward_flops += sign * other.forward_flops;
    scheduler_batches += sign * other.scheduler_batches;
    real_tokens += sign * other.real_tokens;
    padded_tokens += sign * other.padded_tokens;
    training_steps += sign * other.training_steps;
    training_seconds += sign * other.training_seconds;
  }
};

// What one load phase measured, over one or more windows.
struct Phase {
  double seconds = 0;  // measured time
  int64_t texts = 0;   // answered inside it
  int64_t errors = 0;
  std::vector<double> latencies_ms;
  Counters counters;

  double tps() const { return seconds > 0 ? texts / seconds : 0; }
  void Add(const Phase& window) {
    seconds += window.seconds;
    texts += window.texts;
    errors += window.errors;
    latencies_ms.insert(latencies_ms.end(), window.latencies_ms.begin(),
                        window.latencies_ms.end());
    counters.Add(window.counters);
  }
  double Percentile(double q) const {
    if (latencies_ms.empty()) return 0;
    std::vector<double> sorted = latencies_ms;
    std::sort(sorted.begin(), sorted.end());
    const size_t i = std::min(sorted.size() - 1,
                              static_cast<size_t>(q * (sorted.size() - 1) + 0.5));
    return sorted[i];
  }
  double ForwardGflops() const {
    return counters.serving_seconds > 0
               ? counters.forward_flops / counters.serving_seconds / 1e9
               : 0;
  }
  double MeanRowsPerBatch() const {
    return counters.batches > 0 ? counters.rows / counters.batches : 0;
  }
  // Scheduler view: rows x longest row (text + shallow prompt) over real.
  double Padding() const {
    return counters.real_tokens > 0
               ? counters.padded_tokens / counters.real_tokens - 1.0
               : 0;
  }
  double MeanPositionsPerBatch() const {
    return counters.scheduler_batches > 0
               ? counters.padded_tokens / counters.scheduler_batches
               : 0;
  }
};

// One text per request; blocks until the answer comes.
absl::StatusOr<ClassifyResponse> ClassifySync(Engine& engine, PromptKey key,
                                              std::string text) {
  absl::Notification done;
  absl::StatusOr<ClassifyResponse> result;
  ClassifyRequest request;
  request.key = std::move(key);
  request.texts = {std::move(text)};
  engine.Classify(std::move(request), [&](absl::StatusOr<ClassifyResponse> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

// Closed loop over several prompt pickers in alternating windows (A B C A B
// C ...; `rounds` windows of seconds / rounds each per picker, each after a
// short unmeasured switch-over): a drift in the machine's speed hits every
// picker alike, so the ratios between them hold. An answer counts for the
// window it arrives in when its request was sent under that window's picker.
std::vector<Phase> ClosedLoopInterleaved(Engine& engine,
                                         const std::vector<std::string>& texts,
                                         const std::vector<Picker>& pickers,
                                         int clients, double seconds, int rounds) {
  const size_t n = pickers.size();
  std::atomic<int> current{0};
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::atomic<int64_t>> answered(n), errors(n);
  absl::Mutex mu;
  std::vector<std::vector<double>> latencies(n);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(12345 + c);
      std::uniform_int_distribution<size_t> which(0, texts.size() - 1);
      std::vector<std::vector<double>> mine(n);
      while (!stop.load()) {
        const int mode = current.load();
        const absl::Time start = absl::Now();
        absl::StatusOr<ClassifyResponse> r =
            ClassifySync(engine, pickers[mode](rng), texts[which(rng)]);
        if (!measuring.load() || current.load() != mode) continue;
        if (!r.ok()) {
          errors[mode].fetch_add(1);
          continue;
        }
        answered[mode].fetch_add(1);
        mine[mode].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      }
      absl::MutexLock lock(&mu);
      for (size_t k = 0; k < n; ++k) {
        latencies[k].insert(latencies[k].end(), mine[k].begin(), mine[k].end());
      }
    });
  }
  std::vector<Phase> phases(n);
  const double window = seconds / rounds;
  const double switch_over = std::min(0.5, window / 4);
  absl::SleepFor(absl::Seconds(std::max(0.0, seconds / 4 - switch_over)));
  for (int round = 0; round < rounds; ++round) {
    for (size_t k = 0; k < n; ++k) {
      current.store(static_cast<int>(k));
      absl::SleepFor(absl::Seconds(switch_over));  // old requests drain
      const ExecutorStats before = engine.executor_stats();
      const absl::Time start = absl::Now();
      measuring.store(true);
      absl::SleepFor(absl::Seconds(window));
      measuring.store(false);
      phases[k].seconds += absl::ToDoubleSeconds(absl::Now() - start);
      phases[k].counters.AddWindow(before, engine.executor_stats());
    }
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  for (size_t k = 0; k < n; ++k) {
    phases[k].texts = answered[k].load();
    phases[k].errors = errors[k].load();
    phases[k].latencies_ms = std::move(latencies[k]);
  }
  return phases;
}

// Poisson arrivals at `rate` texts/s for `seconds`; latency counted from the
// scheduled arrival (no coordinated omission).
Phase OpenLoop(Engine& engine, const std::vector<std::string>& texts,
               const Picker& pick, double rate, double seconds) {
  std::mt19937 rng(777);
  std::exponential_distribution<double> gap(rate);
  std::uniform_int_distribution<size_t> which(0, texts.size() - 1);
  absl::Mutex mu;
  std::vector<double> latencies;
  int64_t outstanding = 0, errors = 0;
  Phase phase;
  const ExecutorStats before = engine.executor_stats();
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  absl::Time next = start;
  while (next < end) {
    next += absl::Seconds(gap(rng));
    absl::SleepFor(next - absl::Now());
    {
      absl::MutexLock lock(&mu);
      ++outstanding;
    }
    ClassifyRequest request;
    request.key = pick(rng);
    request.texts = {texts[which(rng)]};
    const absl::Time arrival = next;
    engine.Classify(std::move(request),
                    [&, arrival](absl::StatusOr<ClassifyResponse> r) {
                      const double ms =
                          absl::ToDoubleMilliseconds(absl::Now() - arrival);
                      absl::MutexLock lock(&mu);
                      if (r.ok()) {
                        latencies.push_back(ms);
                      } else {
                        ++errors;
                      }
                      --outstanding;
                    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int64_t* n) { return *n == 0; }, &outstanding));
    phase.errors = errors;
  }
  phase.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  phase.counters.AddWindow(before, engine.executor_stats());
  phase.texts = static_cast<int64_t>(latencies.size());
  phase.latencies_ms = std::move(latencies);
  return phase;
}

// The texts Burst queues, in its order.
std::string BurstText(const std::vector<std::string>& texts, int i) {
  return texts[(static_cast<size_t>(i) * 7919) % texts.size()];
}

// Queues `count` texts at once, waits for all; padding with this engine's
// length window.
Phase Burst(Engine& engine, const std::vector<std::string>& texts, int count) {
  absl::Mutex mu;
  int64_t outstanding = count;
  Phase phase;
  const ExecutorStats before = engine.executor_stats();
  const absl::Time start = absl::Now();
  for (int i = 0; i < count; ++i) {
    ClassifyRequest request;
    request.key = SingleKey();
    request.texts = {BurstText(texts, i)};
    engine.Classify(std::move(request), [&](absl::StatusOr<ClassifyResponse>) {
      absl::MutexLock lock(&mu);
      --outstanding;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int64_t* n) { return *n == 0; }, &outstanding));
  }
  phase.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  phase.counters.AddWindow(before, engine.executor_stats());
  phase.texts = count;
  return phase;
}

// Padding (padded / real - 1, rows x longest row incl. the single prompt)
// of FIFO batches of `batch_size` over the burst's texts in arrival order.
absl::StatusOr<double> FifoPadding(const backbone::Backbone& backbone,
                                   const std::vector<std::string>& texts,
                                   int count, int batch_size, int max_tokens) {
  int64_t real = 0, padded = 0;
  for (int begin = 0; begin < count; begin += batch_size) {
    int64_t longest = 0, rows = 0;
    for (int i = begin; i < std::min(count, begin + batch_size); ++i, ++rows) {
      ASSIGN_OR_RETURN(text::Encoding enc,
                       backbone.tokenizer().Encode(BurstText(texts, i), max_tokens));
      const int64_t tokens = static_cast<int64_t>(enc.ids.size()) + kSingleLength;
      real += tokens;
      longest = std::max(longest, tokens);
    }
    padded += rows * longest;
  }
  return real > 0 ? static_cast<double>(padded) / real - 1.0 : 0.0;
}

absl::Status Preload(Engine& engine, const std::vector<PromptKey>& keys) {
  absl::Mutex mu;
  int64_t outstanding = static_cast<int64_t>(keys.size());
  absl::Status first;
  for (const PromptKey& key : keys) {
    engine.LoadPrompt(key, [&](absl::Status status) {
      absl::MutexLock lock(&mu);
      if (first.ok()) first = status;
      --outstanding;
    });
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(+[](int64_t* n) { return *n == 0; }, &outstanding));
  return first;
}

absl::StatusOr<datasets::Dataset> ReadSentences() {
  datasets::Dataset all;
  for (absl::string_view path :
       absl::StrSplit(absl::GetFlag(FLAGS_sentences), ',', absl::SkipEmpty())) {
    ASSIGN_OR_RETURN(datasets::Dataset part,
                     datasets::ReadDataset(std::string(path),
                                           datasets::Task::kClassify));
    all.classification.insert(all.classification.end(),
                              part.classification.begin(),
                              part.classification.end());
    all.labels = part.labels;
  }
  if (all.classification.empty()) {
    return absl::InvalidArgumentError("--sentences gave no sentences");
  }
  return all;
}

std::string Fmt(double v, int digits = 1) {
  return absl::StrFormat("%.*f", digits, v);
}

}  // namespace

absl::Status RunBenchServe() {
  const double seconds = absl::GetFlag(FLAGS_phase_seconds);
  const int clients = absl::GetFlag(FLAGS_clients);
  const int n_prompts = absl::GetFlag(FLAGS_prompts);
  if (seconds <= 0 || clients < 1 || n_prompts < 1) {
    return absl::InvalidArgumentError(
        "--phase_seconds > 0, --clients >= 1, --prompts >= 1");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<backbone::Backbone> loaded,
                   LoadBackboneFromFlags());
  std::shared_ptr<const backbone::Backbone> backbone = std::move(loaded);
  ASSIGN_OR_RETURN(const datasets::Dataset sentences, ReadSentences());
  std::vector<std::string> texts;
  for (const auto& ex : sentences.classification) texts.push_back(ex.text);
  std::cerr << absl::StrFormat(
      "bench-serve: %s on %s, %d intra-op threads, %d sentences, %d clients, "
      "%d prompts, %.1f s per phase\n",
      backbone->name(), backbone->device().str(), at::get_num_threads(),
      texts.size(), clients, n_prompts, seconds);

  BenchLoader loader(*backbone);
  EngineOptions options;
  options.batching.max_batch_size = absl::GetFlag(FLAGS_batch);
  options.batching.max_queue_size =
      std::max(4 * clients, absl::GetFlag(FLAGS_burst));
  options.prompt_cache_bytes = int64_t{4} << 30;
  options.training_share = absl::GetFlag(FLAGS_training_share);
  options.cpu_max_forward_tokens = absl::GetFlag(FLAGS_cpu_max_forward_tokens);
  options.light_tenant_rows = absl::GetFlag(FLAGS_light_tenant_rows);

  std::vector<PromptKey> shallow_keys, deep_keys;
  for (int i = 0; i < n_prompts; ++i) {
    shallow_keys.push_back(StreamKey('s', i));
    deep_keys.push_back(StreamKey('d', i));
  }
  const Picker single = [](std::mt19937&) { return SingleKey(); };
  const Picker shallow = [&](std::mt19937& rng) {
    return shallow_keys[std::uniform_int_distribution<int>(0, n_prompts - 1)(rng)];
  };
  const Picker deep = [&](std::mt19937& rng) {
    return deep_keys[std::uniform_int_distribution<int>(0, n_prompts - 1)(rng)];
  };

  // Closed-loop throughput.
  engine::TrainingDriverOptions training_options;
  if (absl::GetFlag(FLAGS_train_slice_rows) >= 0) {
    training_options.max_rows_per_slice = absl::GetFlag(FLAGS_train_slice_rows);
  }
  if (absl::GetFlag(FLAGS_train_slice_tokens) >= 0) {
    training_options.max_tokens_per_slice = absl::GetFlag(FLAGS_train_slice_tokens);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> main,
                   Engine::Create(options, backbone, &loader, nullptr,
                                  training_options));
  std::cerr << "loading prompts...\n";
  RETURN_IF_ERROR(Preload(*main, {SingleKey()}));
  RETURN_IF_ERROR(Preload(*main, shallow_keys));
  RETURN_IF_ERROR(Preload(*main, deep_keys));
  const int rounds = absl::GetFlag(FLAGS_rounds);
  std::cerr << "closed loop, interleaved: one prompt, " << n_prompts
            << " shallow prompts, " << n_prompts << " deep prompts\n";
  const std::vector<Phase> closed = ClosedLoopInterleaved(
      *main, texts, {single, shallow, deep}, clients, seconds, rounds);
  const Phase& single_phase = closed[0];
  const Phase& mixed_phase = closed[1];
  const Phase& deep_phase = closed[2];

  Phase naive_phase;
  {
    EngineOptions naive_options = options;
    naive_options.single_prompt_batches = true;
    ASSIGN_OR_RETURN(std::unique_ptr<Engine> naive,
                     Engine::Create(naive_options, backbone, &loader));
    RETURN_IF_ERROR(Preload(*naive, shallow_keys));
    std::cerr << "closed loop: naive baseline (same-prompt batches only)\n";
    naive_phase = ClosedLoopInterleaved(*naive, texts, {shallow}, clients,
                                        seconds, 1)[0];
  }

  // Padding of a burst: the engine's batches (length grouping, default
  // window) vs FIFO batches of the same texts in arrival order (what a
  // batcher without grouping forms from the same queue).
  Phase grouped;
  double fifo_padding = 0;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                     Engine::Create(options, backbone, &loader));
    RETURN_IF_ERROR(Preload(*engine, {SingleKey()}));
    std::cerr << "burst: padding with length grouping vs FIFO\n";
    const int burst = absl::GetFlag(FLAGS_burst);
    grouped = Burst(*engine, texts, burst);
    ASSIGN_OR_RETURN(fifo_padding,
                     FifoPadding(*backbone, texts, burst,
                                 options.batching.max_batch_size,
                                 options.max_tokens));
  }

  // Latency at half the throughput of the stream it sends (1,000 shallow
  // prompts), idle and while one training job runs, in alternating windows
  // (idle, training, idle, ...) so that drift hits both alike.
  const double rate = mixed_phase.tps() / 2;
  std::cerr << absl::StrFormat(
      "open loop: %.1f texts/s over %d prompts, idle and training windows\n",
      rate, n_prompts);
  Phase idle_phase;
  std::optional<Phase> training_phase;
  const double window = seconds / rounds;
  for (int round = 0; round < rounds; ++round) {
    idle_phase.Add(OpenLoop(*main, texts, shallow, rate, window));
    if (!absl::GetFlag(FLAGS_training_phase)) continue;
    engine::TrainingRequest request;
    request.task = datasets::Task::kClassify;
    request.spec.kind = prompts::PromptKind::kDeep;
    request.spec.length = 16;
    request.options.epochs = 1000;  // runs until cancelled
    request.options.batch_size = 16;
    request.options.max_tokens = 64;
    request.options.seed = 1 + round;
    request.train = sentences;
    request.valid.task = datasets::Task::kClassify;
    request.valid.labels = sentences.labels;
    request.valid.classification.assign(sentences.classification.begin(),
                                        sentences.classification.begin() + 32);
    std::atomic<bool> cancel{false};
    absl::Status train_status;
    std::thread trainer([&] {
      absl::StatusOr<engine::TrainingOutcome> outcome = main->Train(
          std::move(request), nullptr, nullptr, [&] { return cancel.load(); });
      if (!outcome.ok() && !absl::IsCancelled(outcome.status())) {
        train_status = outcome.status();
      }
    });
    // Measure only once the job steps (building it takes a moment).
    const int64_t steps_before = main->executor_stats().training_steps;
    for (int i = 0; i < 3000 && main->executor_stats().training_steps == steps_before;
         ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    Phase measured = OpenLoop(*main, texts, shallow, rate, window);
    cancel.store(true);
    trainer.join();
    if (!train_status.ok()) {
      std::cerr << "training job failed: " << train_status << "\n";
      break;
    }
    if (!training_phase) training_phase.emplace();
    training_phase->Add(measured);
  }
  const double training_steps =
      training_phase ? training_phase->counters.training_steps : 0;
  const double training_seconds =
      training_phase ? training_phase->counters.training_seconds : 0;
  const double longest_turn = main->executor_stats().longest_training_turn;
  main->Shutdown();

  // Four tenants' training jobs, batched vs in turns.
  std::optional<training::TrainingModeFigures> modes;
  if (const int steps = absl::GetFlag(FLAGS_train_steps); steps > 0) {
    std::cerr << "training: 4 jobs batched vs in turns\n";
    std::vector<training::MeasuredJob> jobs;
    const int kinds[4][2] = {{0, 8}, {0, 16}, {1, 8}, {1, 16}};
    for (int j = 0; j < 4; ++j) {
      training::MeasuredJob job;
      job.train = sentences;
      job.spec.kind = kinds[j][0] == 0 ? prompts::PromptKind::kShallow
                                       : prompts::PromptKind::kDeep;
      job.spec.length = kinds[j][1];
      job.spec.init = prompts::PromptInit::kRandom;
      job.options.batch_size = 16;
      job.options.max_tokens = 64;
      job.options.seed = 100 + j;
      jobs.push_back(std::move(job));
    }
    ASSIGN_OR_RETURN(modes, training::MeasureTrainingModes(*backbone, jobs, steps));
  }

  // The GEMM rate at the mixed run's mean forward size (rows x positions).
  const double positions_per_batch =
      mixed_phase.counters.scheduler_batches > 0 ? mixed_phase.MeanPositionsPerBatch() : 512;
  const auto& c = backbone->config();
  const double gemm_gflops = MeasureGemmRate(
      std::max<int64_t>(1, static_cast<int64_t>(positions_per_batch)),
      c.hidden_size, c.intermediate_size, absl::GetFlag(FLAGS_seconds));
  const double gflops = mixed_phase.ForwardGflops();

  // Human table.
  std::cout << absl::StrFormat("%-34s %10s %10s %10s %10s\n", "phase", "texts/s",
                               "rows/batch", "p50 ms", "p99 ms");
  const auto row = [](const std::string& name, const Phase& p) {
    std::cout << absl::StrFormat("%-34s %10.1f %10.1f %10.1f %10.1f\n", name,
                                 p.tps(), p.MeanRowsPerBatch(), p.Percentile(0.5),
                                 p.Percentile(0.99));
  };
  row("closed: one prompt", single_phase);
  row(absl::StrCat("closed: ", n_prompts, " shallow prompts"), mixed_phase);
  row(absl::StrCat("closed: ", n_prompts, " deep prompts"), deep_phase);
  row("closed: naive (same-prompt only)", naive_phase);
  row("open: 50% load, idle", idle_phase);
  if (training_phase) row("open: 50% load, training", *training_phase);
  std::cout << absl::StrFormat(
      "mixed/single %.3f  naive/single %.3f  padding (padded/real - 1) of a "
      "burst: grouped %.3f, FIFO %.3f\n",
      mixed_phase.tps() / single_phase.tps(), naive_phase.tps() / single_phase.tps(),
      grouped.Padding(), fifo_padding);
  std::cout << absl::StrFormat(
      "mixed run: %.1f GFLOP/s in forwards, GEMM %.1f GFLOP/s at %.0f "
      "positions (%.0f%%)\n",
      gflops, gemm_gflops, positions_per_batch, 100 * gflops / gemm_gflops);
  if (modes) {
    std::cout << absl::StrFormat(
        "training, 4 jobs: batched %.1f examples/s, in turns %.1f\n",
        modes->batched_eps, modes->turns_eps);
  }
  if (training_phase) {
    std::cout << absl::StrFormat(
        "training turns (slices of <= %d rows, <= %d tokens; 0 = no limit) "
        "during the training windows: %.0f, mean %.1f ms each, longest %.1f ms; "
        "%.0f%% of the windows' time\n",
        training_options.max_rows_per_slice,
        training_options.max_tokens_per_slice, training_steps,
        training_steps > 0 ? 1000 * training_seconds / training_steps : 0.0,
        1000 * longest_turn,
        100 * training_seconds / std::max(1e-9, training_phase->seconds));
  }
  const int64_t errors = single_phase.errors + mixed_phase.errors +
                         deep_phase.errors + naive_phase.errors +
                         idle_phase.errors +
                         (training_phase ? training_phase->errors : 0);
  if (errors > 0) std::cout << "failed requests: " << errors << "\n";

  const auto round = [](double v, int digits) {
    const double f = std::pow(10.0, digits);
    return std::round(v * f) / f;
  };
  nlohmann::json out;
  out["single_tps"] = round(single_phase.tps(), 1);
  out["mixed_tps"] = round(mixed_phase.tps(), 1);
  out["mixed_ratio"] = round(mixed_phase.tps() / single_phase.tps(), 3);
  out["mixed_deep_tps"] = round(deep_phase.tps(), 1);
  out["naive_tps"] = round(naive_phase.tps(), 1);
  out["padding_grouped"] = round(grouped.Padding(), 3);
  out["padding_ungrouped"] = round(fifo_padding, 3);
  out["p50_ms"] = round(idle_phase.Percentile(0.5), 2);
  out["p99_ms"] = round(idle_phase.Percentile(0.99), 2);
  out["p99_training_ms"] =
      training_phase ? nlohmann::json(round(training_phase->Percentile(0.99), 2))
                     : nlohmann::json(nullptr);
  out["train_batched_eps"] =
      modes ? nlohmann::json(round(modes->batched_eps, 1)) : nlohmann::json(nullptr);
  out["train_turns_eps"] =
      modes ? nlohmann::json(round(modes->turns_eps, 1)) : nlohmann::json(nullptr);
  out["gflops"] = round(gflops, 1);
  out["gemm_gflops"] = round(gemm_gflops, 1);
  std::cout << out.dump() << std::endl;
  return absl::OkStatus();
}

}  // namespace ptune::inspect
