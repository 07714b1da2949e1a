#include "server/engine/engine.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/batching/clock.h"
#include "server/datasets/dataset.h"
#include "server/datasets/text_util.h"
#include "server/engine/test_loader.h"
#include "server/engine/test_parity.h"
#include "server/training/bio.h"
#include "tests/testing/shared_backbone.h"
#include "tests/testing/test_paths.h"

namespace ptune::engine {
namespace {

using ::ptune::engine::testing::AddParityPrompts;
using ::ptune::engine::testing::CompareAnswers;
using ::ptune::engine::testing::Deep;
using ::ptune::engine::testing::ParityPrompts;
using ::ptune::engine::testing::ParityReport;
using ::ptune::engine::testing::ParityTexts;
using ::ptune::engine::testing::Recipe;
using ::ptune::engine::testing::Shallow;
using ::ptune::engine::testing::TestLoader;

// Collects one completion.
template <typename R>
class Answer {
 public:
  absl::AnyInvocable<void(absl::StatusOr<R>)> Callback() {
    return [this](absl::StatusOr<R> r) {
      result_ = std::move(r);
      done_.Notify();
    };
  }
  const absl::StatusOr<R>& Wait() {
    done_.WaitForNotification();
    return result_;
  }
  bool done() const { return done_.HasBeenNotified(); }

 private:
  absl::Notification done_;
  absl::StatusOr<R> result_ = absl::UnknownError("not answered");
};

// Counts what the executor reports.
class CountingObserver : public EngineObserver {
 public:
  void OnBatch(int rows, int64_t, double, double) override {
    batches_.fetch_add(1);
    rows_.fetch_add(rows);
  }
  int batches() const { return batches_.load(); }
  int rows() const { return rows_.load(); }

 private:
  std::atomic<int> batches_{0};
  std::atomic<int> rows_{0};
};

PromptKey Key(const std::string& tenant, const std::string& name) {
  return PromptKey{tenant, name, 1};
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const backbone::Backbone* raw = ptune::testing::SharedBackbone();
    if (raw == nullptr) GTEST_SKIP() << "backbone not installed";
    backbone_ = std::shared_ptr<const backbone::Backbone>(
        raw, [](const backbone::Backbone*) {});  // shared, never freed
    loader_ = std::make_unique<TestLoader>(raw);

    const std::vector<std::string> bio = training::BioLabelSet({"LOC", "PER"});
    prompts::PromptSpec infix = Shallow(12);
    infix.placement = prompts::Placement::kInfix;
    prompts::PromptSpec prefix_infix = Shallow(6);
    prefix_infix.placement = prompts::Placement::kPrefixInfix;
    prefix_infix.pooling = prompts::HeadPooling::kMean;
    loader_->Add(Key("t1", "cls_s4"), Recipe{.spec = Shallow(4), .seed = 1});
    loader_->Add(Key("t2", "cls_s12"), Recipe{.spec = infix, .seed = 2});
    loader_->Add(Key("t3", "cls_d8"),
                 Recipe{.labels = {"a", "b", "c"}, .spec = Deep(8), .seed = 3});
    loader_->Add(Key("t1", "cls_s6"), Recipe{.spec = prefix_infix, .seed = 4});
    loader_->Add(Key("t4", "tag_s5"), Recipe{.task = datasets::Task::kTag,
                                             .labels = bio,
                                             .spec = Shallow(5),
                                             .seed = 5});
    loader_->Add(Key("t5", "tag_d6"), Recipe{.task = datasets::Task::kTag,
                                             .labels = bio,
                                             .spec = Deep(6),
                                             .seed = 6});
  }

  EngineOptions FakeClockOptions(absl::Duration batch_timeout) {
    EngineOptions options;
    options.batching.clock = &clock_;
    options.batching.batch_timeout = batch_timeout;
    options.batching.max_batch_size = 64;
    return options;
  }

  std::unique_ptr<Engine> MakeEngine(const EngineOptions& options,
                                     EngineObserver* observer = nullptr) {
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Create(options, backbone_, loader_.get(), observer);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  // An engine that batches without waiting, gives training `training_share`
  // of the executor while serving has traffic, and has t1/cls_s4 loaded.
  std::unique_ptr<Engine> MakeTrainingEngine(double training_share) {
    EngineOptions options;
    options.batching.batch_timeout = absl::ZeroDuration();
    options.training_share = training_share;
    std::unique_ptr<Engine> engine = MakeEngine(options);
    if (engine != nullptr) Preload(*engine, Key("t1", "cls_s4"));
    return engine;
  }

  static void Preload(Engine& engine, const PromptKey& key) {
    absl::Notification loaded;
    absl::Status status;
    engine.LoadPrompt(key, [&](absl::Status s) {
      status = s;
      loaded.Notify();
    });
    loaded.WaitForNotification();
    ASSERT_TRUE(status.ok()) << status;
  }

  static ClassifyRequest Request(const PromptKey& key,
                                 std::vector<std::string> texts) {
    ClassifyRequest request;
    request.key = key;
    request.texts = std::move(texts);
    return request;
  }

  // The probabilities of PromptModel::Logits on `text` alone.
  std::vector<float> ReferenceProbabilities(const PromptKey& key,
                                            const std::string& text,
                                            int max_tokens) {
    std::unique_ptr<prompts::PromptModel> model = loader_->Make(key);
    c10::InferenceMode inference;
    absl::StatusOr<backbone::TokenBatch> batch =
        model->Tokenize(*backbone_, {text}, max_tokens);
    EXPECT_TRUE(batch.ok());
    absl::StatusOr<at::Tensor> logits =
        model->Logits(*backbone_, *batch, /*training=*/false);
    EXPECT_TRUE(logits.ok());
    at::Tensor p = logits->softmax(-1).reshape({-1}).contiguous();
    return std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }

  batching::FakeClock clock_;
  std::shared_ptr<const backbone::Backbone> backbone_;
  std::unique_ptr<TestLoader> loader_;
};

// A classification job over `texts` (labels alternate pos/neg; validated
// on its training data), shallow m = 4, batches of 4, no early stop.
TrainingRequest ShallowTrainingRequest(const std::vector<std::string>& texts, int epochs) {
  TrainingRequest request;
  request.task = datasets::Task::kClassify;
  request.spec = Shallow(4);
  request.options.epochs = epochs;
  request.options.patience = epochs;
  request.options.batch_size = 4;
  request.train.task = request.valid.task = datasets::Task::kClassify;
  for (size_t i = 0; i < texts.size(); ++i) {
    request.train.classification.push_back({texts[i], i % 2 == 0 ? "pos" : "neg"});
  }
  request.train.labels = request.valid.labels = {"neg", "pos"};
  request.valid.classification = request.train.classification;
  return request;
}

struct Submitted {
  PromptKey key;
  bool tagging;
  std::vector<std::string> texts;
};

TEST_F(EngineTest, RowResultIsTheSameAloneAndInAMixedBatch) {
  const std::vector<Submitted> requests = {
      {Key("t1", "cls_s4"), false, {"good", "a rather long and winding sentence about a film that never ends"}},
      {Key("t2", "cls_s12"), false, {"terrible acting", "the plot is thin but the music is lovely"}},
      {Key("t3", "cls_d8"), false, {"ok", "I would watch it again with friends"}},
      {Key("t1", "cls_s6"), false, {"meh .", "not bad at all, really"}},
      {Key("t4", "tag_s5"), true, {"Angela Merkel visited Paris", "John lives in New York City with Mary"}},
      {Key("t5", "tag_d6"), true, {"Berlin", "Zoë met José in Köln yesterday"}},
  };

  // Alone: one text per forward (batch_timeout 0, one request at a time).
  EngineOptions alone_options;
  alone_options.batching.batch_timeout = absl::ZeroDuration();
  std::unique_ptr<Engine> alone = MakeEngine(alone_options);
  ASSERT_NE(alone, nullptr);
  std::vector<std::vector<ClassifyResult>> alone_classify(requests.size());
  std::vector<std::vector<TagResult>> alone_tag(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    for (const std::string& text : requests[i].texts) {
      if (requests[i].tagging) {
        Answer<TagResponse> answer;
        alone->TagEntities(Request(requests[i].key, {text}), answer.Callback());
        ASSERT_TRUE(answer.Wait().ok()) << answer.Wait().status();
        alone_tag[i].push_back(answer.Wait()->results.at(0));
      } else {
        Answer<ClassifyResponse> answer;
        alone->Classify(Request(requests[i].key, {text}), answer.Callback());
        ASSERT_TRUE(answer.Wait().ok()) << answer.Wait().status();
        alone_classify[i].push_back(answer.Wait()->results.at(0));
      }
    }
  }
  EXPECT_EQ(alone->executor_stats().batches, 12);

  // Mixed: every request queued, then released as ONE batch; run as one
  // forward (no splitting) and as forwards split by padding (CPU default).
  for (const double max_padding : {-1.0, 0.3}) {
    SCOPED_TRACE(max_padding);
    CountingObserver observer;
    EngineOptions mixed_options = FakeClockOptions(absl::Seconds(1));
    mixed_options.cpu_max_padding = max_padding;
    if (max_padding < 0) mixed_options.cpu_max_forward_tokens = 0;  // one forward
    std::unique_ptr<Engine> mixed = MakeEngine(mixed_options, &observer);
    ASSERT_NE(mixed, nullptr);
    for (const Submitted& r : requests) Preload(*mixed, r.key);
    std::vector<std::unique_ptr<Answer<ClassifyResponse>>> classify_answers;
    std::vector<std::unique_ptr<Answer<TagResponse>>> tag_answers;
    for (const Submitted& r : requests) {
      if (r.tagging) {
        tag_answers.push_back(std::make_unique<Answer<TagResponse>>());
        mixed->TagEntities(Request(r.key, r.texts), tag_answers.back()->Callback());
      } else {
        classify_answers.push_back(std::make_unique<Answer<ClassifyResponse>>());
        mixed->Classify(Request(r.key, r.texts), classify_answers.back()->Callback());
      }
    }
    EXPECT_EQ(mixed->executor_stats().scheduler.queue_depth, 12);
    clock_.Advance(absl::Seconds(2));
    size_t c = 0, t = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (requests[i].tagging) {
        const absl::StatusOr<TagResponse>& got = tag_answers[t++]->Wait();
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(got->results.size(), 2u);
        for (size_t j = 0; j < 2; ++j) {
          const std::vector<Entity>& a = alone_tag[i][j].entities;
          const std::vector<Entity>& m = got->results[j].entities;
          ASSERT_EQ(a.size(), m.size()) << requests[i].texts[j];
          for (size_t e = 0; e < a.size(); ++e) {
            EXPECT_EQ(a[e].type, m[e].type);
            EXPECT_EQ(a[e].start, m[e].start);
            EXPECT_EQ(a[e].end, m[e].end);
            EXPECT_EQ(a[e].byte_start, m[e].byte_start);
            EXPECT_EQ(a[e].text, m[e].text);
            EXPECT_NEAR(a[e].score, m[e].score, 1e-5);
          }
        }
      } else {
        const absl::StatusOr<ClassifyResponse>& got =
            classify_answers[c++]->Wait();
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(got->results.size(), 2u);
        for (size_t j = 0; j < 2; ++j) {
          const ClassifyResult& a = alone_classify[i][j];
          const ClassifyResult& m = got->results[j];
          const std::vector<float> reference =
              ReferenceProbabilities(requests[i].key, requests[i].texts[j], 128);
          ASSERT_EQ(m.probabilities.size(), reference.size());
          for (size_t k = 0; k < reference.size(); ++k) {
            EXPECT_NEAR(m.probabilities[k].second, reference[k], 1e-5);
            EXPECT_NEAR(a.probabilities[k].second, m.probabilities[k].second,
                        1e-5);
          }
          EXPECT_EQ(a.label, m.label);
          double best = 0;
          for (float p : reference) best = std::max<double>(best, p);
          EXPECT_NEAR(m.score, best, 1e-5);
        }
      }
    }
    EXPECT_EQ(observer.rows(), 12);
    if (max_padding < 0) {
      // All twelve texts, five prompts, both tasks: one forward.
      EXPECT_EQ(observer.batches(), 1);
    } else {
      // Lengths from 3 to ~30 positions: split, yet the same results.
      EXPECT_GT(observer.batches(), 1);
    }
  }
}

// Overlapped batches (the GPU's default, forced here on the CPU): every row
// is answered - while the next batch runs, when no batch follows, across
// training turns and at shutdown - with what one-batch-at-a-time answers.
TEST_F(EngineTest, PipelinedBatchesAnswerEveryRowAsUnpipelined) {
  const std::vector<Submitted> requests = {
      {Key("t1", "cls_s4"), false, {"good", "a rather long sentence about a film"}},
      {Key("t3", "cls_d8"), false, {"ok", "I would watch it again with friends"}},
      {Key("t4", "tag_s5"), true, {"Angela Merkel visited Paris", "John lives in New York"}},
      {Key("t5", "tag_d6"), true, {"Berlin", "Zoë met José in Köln yesterday"}},
  };
  // [pipelined]: per request, (label or entity span, score) of each answer.
  std::vector<std::vector<std::pair<std::string, double>>> answers[2];
  for (const bool pipelined : {false, true}) {
    SCOPED_TRACE(pipelined);
    EngineOptions options;
    options.batching.batch_timeout = absl::ZeroDuration();
    options.batching.max_batch_size = 2;  // several batches back to back
    options.cpu_max_padding = -1;         // one forward per batch, as on a GPU
    options.training_share = 0.5;
    options.pipeline_batches = pipelined;
    std::unique_ptr<Engine> engine = MakeEngine(options);
    ASSERT_NE(engine, nullptr);
    for (const Submitted& r : requests) Preload(*engine, r.key);
    // A training job interleaves its turns with the batches.
    std::vector<std::string> texts = {"fine", "poor", "great", "awful"};
    TrainingRequest job = ShallowTrainingRequest(texts, /*epochs=*/2);
    job.options.max_tokens = 16;
    absl::StatusOr<TrainingOutcome> outcome = absl::UnknownError("not run");
    std::thread trainer([&] {
      outcome = engine->Train(std::move(job), nullptr, nullptr, nullptr);
    });
    for (int wave = 0; wave < 2; ++wave) {
      // Wave 0: everything at once (batches follow batches); wave 1: one
      // request at a time (no batch follows: the executor answers on idle).
      std::vector<std::unique_ptr<Answer<ClassifyResponse>>> classify;
      std::vector<std::unique_ptr<Answer<TagResponse>>> tag;
      for (const Submitted& r : requests) {
        if (r.tagging) {
          tag.push_back(std::make_unique<Answer<TagResponse>>());
          engine->TagEntities(Request(r.key, r.texts), tag.back()->Callback());
          if (wave == 1) ASSERT_TRUE(tag.back()->Wait().ok()) << tag.back()->Wait().status();
        } else {
          classify.push_back(std::make_unique<Answer<ClassifyResponse>>());
          engine->Classify(Request(r.key, r.texts), classify.back()->Callback());
          if (wave == 1) {
            ASSERT_TRUE(classify.back()->Wait().ok()) << classify.back()->Wait().status();
          }
        }
      }
      size_t c = 0, t = 0;
      for (const Submitted& r : requests) {
        std::vector<std::pair<std::string, double>> got;
        if (r.tagging) {
          const absl::StatusOr<TagResponse>& answer = tag[t++]->Wait();
          ASSERT_TRUE(answer.ok()) << answer.status();
          for (const TagResult& result : answer->results) {
            for (const Entity& e : result.entities) {
              got.emplace_back(absl::StrCat(e.type, e.start, ":", e.end), e.score);
            }
          }
        } else {
          const absl::StatusOr<ClassifyResponse>& answer = classify[c++]->Wait();
          ASSERT_TRUE(answer.ok()) << answer.status();
          for (const ClassifyResult& result : answer->results) {
            got.emplace_back(result.label, result.score);
          }
        }
        answers[pipelined].push_back(std::move(got));
      }
    }
    trainer.join();
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    // Queued at shutdown: answered before Shutdown returns.
    Answer<ClassifyResponse> last;
    engine->Classify(Request(Key("t1", "cls_s4"), {"queued at shutdown"}), last.Callback());
    engine->Shutdown();
    ASSERT_TRUE(last.done());
    EXPECT_TRUE(last.Wait().ok()) << last.Wait().status();
  }
  ASSERT_EQ(answers[true].size(), answers[false].size());
  for (size_t i = 0; i < answers[true].size(); ++i) {
    ASSERT_EQ(answers[true][i].size(), answers[false][i].size()) << i;
    for (size_t j = 0; j < answers[true][i].size(); ++j) {
      EXPECT_EQ(answers[true][i][j].first, answers[false][i][j].first);
      EXPECT_NEAR(answers[true][i][j].second, answers[false][i][j].second, 1e-4);
    }
  }
}

// A prompt reads texts as it was trained: with its own max_tokens (128
// when its artifact records none), within the engine's max_tokens.
TEST_F(EngineTest, EachPromptReadsTextsWithItsTrainingMaxTokens) {
  const PromptKey short_key = Key("t1", "cls_short");
  loader_->Add(short_key, Recipe{.make = [this] {
                 auto model = prompts::PromptModel::Create(
                     *backbone_, datasets::Task::kClassify, {"neg", "pos"}, Shallow(4), 1);
                 (*model)->set_max_tokens(6);
                 return std::move(*model);
               }});
  const std::string text =
      "the plot is thin but the music is lovely and the ending is earned";
  const auto served = [&](Engine& engine, const PromptKey& key) {
    Answer<ClassifyResponse> answer;
    engine.Classify(Request(key, {text}), answer.Callback());
    EXPECT_TRUE(answer.Wait().ok()) << answer.Wait().status();
    std::vector<float> p;
    for (const auto& [label, probability] : answer.Wait()->results.at(0).probabilities) {
      p.push_back(static_cast<float>(probability));
    }
    return p;
  };
  const auto expect_near = [](const std::vector<float>& a, const std::vector<float>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-5) << k;
  };
  EngineOptions options;
  options.batching.batch_timeout = absl::ZeroDuration();
  std::unique_ptr<Engine> engine = MakeEngine(options);
  ASSERT_NE(engine, nullptr);
  const std::vector<float> cut = served(*engine, short_key);
  expect_near(cut, ReferenceProbabilities(short_key, text, 6));
  // The cut matters for this text: read whole, it scores otherwise.
  EXPECT_GT(std::abs(cut[0] - ReferenceProbabilities(short_key, text, 128)[0]), 1e-4);
  expect_near(served(*engine, Key("t1", "cls_s4")),
              ReferenceProbabilities(Key("t1", "cls_s4"), text, prompts::kDefaultMaxTokens));
  // The engine's budget bounds every prompt's.
  options.max_tokens = 5;
  std::unique_ptr<Engine> capped = MakeEngine(options);
  ASSERT_NE(capped, nullptr);
  expect_near(served(*capped, short_key), ReferenceProbabilities(short_key, text, 5));
}

TEST_F(EngineTest, QueueFullIsUnavailable) {
  EngineOptions options = FakeClockOptions(absl::Seconds(1));
  options.batching.max_queue_size = 2;
  std::unique_ptr<Engine> engine = MakeEngine(options);
  Preload(*engine, Key("t1", "cls_s4"));
  Answer<ClassifyResponse> answer;
  engine->Classify(Request(Key("t1", "cls_s4"), {"one", "two", "three"}),
                   answer.Callback());
  ASSERT_TRUE(answer.done());  // a hit queues on this thread
  EXPECT_EQ(answer.Wait().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(engine->executor_stats().scheduler.rejected_queue_full, 1);
  // All of a request's texts or none: nothing was queued.
  EXPECT_EQ(engine->executor_stats().scheduler.queue_depth, 0);
  clock_.Advance(absl::Seconds(2));
  engine->Shutdown();
  EXPECT_EQ(engine->executor_stats().rows, 0);
}

TEST_F(EngineTest, ExpiredDeadlineNeverReachesTheForward) {
  CountingObserver observer;
  std::unique_ptr<Engine> engine =
      MakeEngine(FakeClockOptions(absl::ZeroDuration()), &observer);
  loader_->CloseGate();
  ClassifyRequest request = Request(Key("t1", "cls_s4"), {"late"});
  request.deadline = clock_.Now() + absl::Seconds(1);
  Answer<ClassifyResponse> answer;
  engine->Classify(std::move(request), answer.Callback());
  while (loader_->total_loads() == 0) absl::SleepFor(absl::Milliseconds(1));
  clock_.Advance(absl::Seconds(2));  // expires while the prompt loads
  loader_->OpenGate();
  EXPECT_EQ(answer.Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
  engine->Shutdown();
  EXPECT_EQ(observer.rows(), 0);
  EXPECT_EQ(engine->executor_stats().scheduler.dropped_deadline, 1);

  // A deadline already past is refused before queueing.
  std::unique_ptr<Engine> other = MakeEngine(FakeClockOptions(absl::ZeroDuration()));
  ClassifyRequest past = Request(Key("t1", "cls_s4"), {"x"});
  past.deadline = clock_.Now() - absl::Seconds(1);
  Answer<ClassifyResponse> refused;
  other->Classify(std::move(past), refused.Callback());
  EXPECT_EQ(refused.Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(EngineTest, CancelledRequestsAreDropped) {
  CountingObserver observer;
  std::unique_ptr<Engine> engine =
      MakeEngine(FakeClockOptions(absl::Seconds(1)), &observer);
  Preload(*engine, Key("t1", "cls_s4"));
  // Cancelled while queued: the scheduler drops it.
  ClassifyRequest queued = Request(Key("t1", "cls_s4"), {"a", "b"});
  queued.cancelled = std::make_shared<std::atomic<bool>>(false);
  Answer<ClassifyResponse> first;
  engine->Classify(queued, first.Callback());
  EXPECT_FALSE(first.done());
  queued.cancelled->store(true);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(first.Wait().status().code(), absl::StatusCode::kCancelled);

  // Cancelled while its prompt loads: never queued.
  loader_->CloseGate();
  ClassifyRequest loading = Request(Key("t2", "cls_s12"), {"c"});
  loading.cancelled = std::make_shared<std::atomic<bool>>(false);
  Answer<ClassifyResponse> second;
  engine->Classify(loading, second.Callback());
  loading.cancelled->store(true);
  loader_->OpenGate();
  EXPECT_EQ(second.Wait().status().code(), absl::StatusCode::kCancelled);
  engine->Shutdown();
  EXPECT_EQ(observer.rows(), 0);
  EXPECT_EQ(engine->executor_stats().scheduler.dropped_cancelled, 2);
}

TEST_F(EngineTest, ServesWhileALoaderIsSlow) {
  EngineOptions options;
  options.batching.batch_timeout = absl::ZeroDuration();
  std::unique_ptr<Engine> engine = MakeEngine(options);
  Preload(*engine, Key("t1", "cls_s4"));
  loader_->CloseGate();
  Answer<ClassifyResponse> slow;
  engine->Classify(Request(Key("t2", "cls_s12"), {"waits for its prompt"}),
                   slow.Callback());
  for (int i = 0; i < 3; ++i) {
    Answer<ClassifyResponse> fast;
    engine->Classify(Request(Key("t1", "cls_s4"), {"served meanwhile"}),
                     fast.Callback());
    EXPECT_TRUE(fast.Wait().ok()) << fast.Wait().status();
  }
  EXPECT_FALSE(slow.done());
  loader_->OpenGate();
  EXPECT_TRUE(slow.Wait().ok()) << slow.Wait().status();
  const CacheStats stats = engine->cache_stats();
  EXPECT_EQ(stats.hits, 3);
  EXPECT_EQ(stats.misses, 2);  // the preload and the slow request
}

TEST_F(EngineTest, TagOffsetsPointIntoTheOriginalText) {
  // A head that tags every word B-PER: each word becomes an entity, so every
  // word's offsets are checked.
  loader_->Add(Key("t9", "all_per"), Recipe{.make = [this] {
    at::Tensor prompt = at::randn({4, backbone_->hidden_size()});
    at::Tensor weight = at::zeros({3, backbone_->hidden_size()});
    at::Tensor bias = at::tensor({0.0f, 5.0f, 0.0f});
    auto model = prompts::PromptModel::FromTensors(
        *backbone_, datasets::Task::kTag, {"O", "B-PER", "I-PER"}, Shallow(4),
        prompt, weight, bias);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? std::move(*model) : nullptr;
  }});
  EngineOptions options;
  options.batching.batch_timeout = absl::ZeroDuration();
  std::unique_ptr<Engine> engine = MakeEngine(options);
  const std::string text = "Zoë met José in Köln, 北京!";
  Answer<TagResponse> answer;
  engine->TagEntities(Request(Key("t9", "all_per"), {text}), answer.Callback());
  ASSERT_TRUE(answer.Wait().ok()) << answer.Wait().status();
  const std::vector<Entity>& entities = answer.Wait()->results.at(0).entities;
  std::vector<std::string> words;
  const std::u32string code_points = datasets::DecodeUtf8(text);
  for (const Entity& e : entities) {
    EXPECT_EQ(e.type, "PER");
    EXPECT_EQ(text.substr(e.byte_start, e.byte_end - e.byte_start), e.text);
    EXPECT_EQ(datasets::EncodeUtf8(code_points.substr(e.start, e.end - e.start)),
              e.text);
    EXPECT_GT(e.score, 0.9);
    words.push_back(e.text);
  }
  EXPECT_EQ(words, (std::vector<std::string>{"Zoë", "met", "José", "in", "Köln",
                                             ",", "北京", "!"}));
  ASSERT_GE(entities.size(), 3u);
  EXPECT_EQ(entities[2].start, 8);
  EXPECT_EQ(entities[2].end, 12);
  EXPECT_EQ(entities[2].byte_start, 9);
  EXPECT_EQ(entities[2].byte_end, 14);
}

TEST_F(EngineTest, RejectsBadRequests) {
  EngineOptions options;
  options.max_texts_per_request = 2;
  std::unique_ptr<Engine> engine = MakeEngine(options);
  Answer<ClassifyResponse> empty, many, wrong_task, bad_utf8, missing;
  engine->Classify(Request(Key("t1", "cls_s4"), {}), empty.Callback());
  engine->Classify(Request(Key("t1", "cls_s4"), {"a", "b", "c"}), many.Callback());
  engine->Classify(Request(Key("t4", "tag_s5"), {"a"}), wrong_task.Callback());
  engine->Classify(Request(Key("t1", "cls_s4"), {"\xff"}), bad_utf8.Callback());
  engine->Classify(Request(Key("nobody", "x"), {"a"}), missing.Callback());
  EXPECT_EQ(empty.Wait().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(many.Wait().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong_task.Wait().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_utf8.Wait().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.Wait().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, EvictionReloadsAndShutdownRefuses) {
  EngineOptions options;
  options.batching.batch_timeout = absl::ZeroDuration();
  std::unique_ptr<Engine> engine = MakeEngine(options);
  for (int round = 0; round < 2; ++round) {
    Answer<ClassifyResponse> answer;
    engine->Classify(Request(Key("t1", "cls_s4"), {"hello"}), answer.Callback());
    EXPECT_TRUE(answer.Wait().ok());
    engine->EvictTenant("t1");
  }
  EXPECT_EQ(loader_->loads(Key("t1", "cls_s4")), 2);
  EXPECT_EQ(engine->cache_stats().resident_prompts, 0);
  engine->Shutdown();
  Answer<ClassifyResponse> late;
  engine->Classify(Request(Key("t1", "cls_s4"), {"hello"}), late.Callback());
  EXPECT_EQ(late.Wait().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(EngineTest, ShutdownFinishesQueuedWork) {
  EngineOptions options;
  options.batching.batch_timeout = absl::Milliseconds(50);
  std::unique_ptr<Engine> engine = MakeEngine(options);
  Preload(*engine, Key("t1", "cls_s4"));
  Answer<ClassifyResponse> answer;
  engine->Classify(Request(Key("t1", "cls_s4"), {"queued", "at shutdown"}),
                   answer.Callback());
  engine->Shutdown();
  ASSERT_TRUE(answer.done());
  EXPECT_TRUE(answer.Wait().ok()) << answer.Wait().status();
}

TEST_F(EngineTest, TrainsOnTheExecutorWhileServing) {
  std::unique_ptr<Engine> engine = MakeTrainingEngine(0.5);
  ASSERT_NE(engine, nullptr);

  const char* words[] = {"good", "bad", "great", "awful", "fine", "poor"};
  std::vector<std::string> texts;
  for (int i = 0; i < 12; ++i) texts.push_back(absl::StrCat("it was ", words[i % 6]));
  TrainingRequest request = ShallowTrainingRequest(texts, /*epochs=*/2);
  request.options.max_tokens = 16;
  std::atomic<int> epochs{0};
  absl::StatusOr<TrainingOutcome> outcome = absl::UnknownError("not run");
  std::thread trainer([&] {
    outcome = engine->Train(
        std::move(request),
        [&](const training::EpochReport&) { epochs.fetch_add(1); }, nullptr,
        nullptr);
  });
  // Serving goes on while the job runs.
  int served = 0;
  while (served < 5) {
    Answer<ClassifyResponse> answer;
    engine->Classify(Request(Key("t1", "cls_s4"), {"still served"}),
                     answer.Callback());
    ASSERT_TRUE(answer.Wait().ok()) << answer.Wait().status();
    ++served;
  }
  trainer.join();
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_NE(outcome->model, nullptr);
  EXPECT_EQ(epochs.load(), 2);
  const ExecutorStats stats = engine->executor_stats();
  EXPECT_GE(stats.training_steps, 6);  // 12 examples / 4 per step x 2 epochs
  EXPECT_GE(stats.rows, 5);
}

TEST_F(EngineTest, TrainingShareCapsTrainingWhileServingHasTraffic) {
  std::unique_ptr<Engine> engine = MakeTrainingEngine(0.2);
  ASSERT_NE(engine, nullptr);
  std::vector<std::string> texts;
  for (int i = 0; i < 8; ++i) {
    texts.push_back(absl::StrCat("a fairly long review number ", i, " of a film"));
  }
  TrainingRequest request = ShallowTrainingRequest(texts, /*epochs=*/1000);
  std::atomic<bool> cancel{false};
  std::thread trainer([&] {
    (void)engine->Train(std::move(request), nullptr, nullptr, [&] { return cancel.load(); });
  });
  while (engine->executor_stats().training_steps == 0) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  // Training's share of the executor over `seconds` of wall time, and at
  // least 3 turns' worth of its share: under traffic a turn that used a
  // serving gap is paid back at `share` of wall time (turn / share seconds)
  // and counts only when it ends, so on a loaded machine or under ASan
  // (turns of 0.3-1 s) a 2 s window could see none.
  const auto measure = [&](double seconds) {
    const ExecutorStats before = engine->executor_stats();
    seconds = std::max(seconds, 3 * before.longest_training_turn / 0.2);
    const absl::Time start = absl::Now();
    while (absl::Now() - start < absl::Seconds(seconds)) absl::SleepFor(absl::Milliseconds(1));
    const ExecutorStats after = engine->executor_stats();
    return (after.training_seconds - before.training_seconds) /
           absl::ToDoubleSeconds(absl::Now() - start);
  };
  // No serving traffic: training takes the executor.
  const double alone = measure(1.0);
  // Light traffic, sent open-loop (one text every 20 ms whatever the
  // answers' latency, so most of the time is idle): training may use the
  // gaps only up to its share.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, pending{0};
  std::thread client([&] {
    while (!stop.load()) {
      pending.fetch_add(1);
      engine->Classify(Request(Key("t1", "cls_s4"), {"still served"}),
                       [&](absl::StatusOr<ClassifyResponse> r) {
                         if (r.ok()) answered.fetch_add(1);
                         pending.fetch_sub(1);
                       });
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  absl::SleepFor(absl::Milliseconds(100));
  const double with_traffic = measure(2.0);
  stop.store(true);
  client.join();
  // The callbacks write to this frame: every call is answered before it ends
  // (ASan caught one answered during the engine's destruction).
  while (pending.load() > 0) absl::SleepFor(absl::Milliseconds(1));
  cancel.store(true);
  trainer.join();
  EXPECT_GT(alone, 0.5);
  EXPECT_GT(with_traffic, 0.0);  // still progresses
  // Share 0.2, plus the saved credit and one slice of overdraw; uncapped,
  // training took ~0.8 here.
  EXPECT_LT(with_traffic, 0.45) << "alone " << alone;
  EXPECT_GT(answered.load(), 0);  // serving went on
}

TEST_F(EngineTest, ShutdownEndsARunningTrainingJob) {
  std::unique_ptr<Engine> engine = MakeEngine(EngineOptions());
  TrainingRequest request;
  request.task = datasets::Task::kClassify;
  request.spec = Shallow(4);
  request.options.epochs = 1000;
  request.options.patience = 1000;  // no early stop before Shutdown
  request.options.batch_size = 2;
  request.train.task = request.valid.task = datasets::Task::kClassify;
  request.train.classification = {{"good", "pos"}, {"bad", "neg"}};
  request.train.labels = request.valid.labels = {"neg", "pos"};
  request.valid.classification = request.train.classification;
  absl::StatusOr<TrainingOutcome> outcome = absl::UnknownError("not run");
  std::thread trainer([&] {
    outcome = engine->Train(std::move(request), nullptr, nullptr, nullptr);
  });
  while (engine->executor_stats().training_steps == 0) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  engine->Shutdown();
  trainer.join();
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kUnavailable);
}

// The watchdog's probe: a turn that does not end (here: a training step
// blocked in its cancel check) shows as a growing CurrentExecutorTurn, and
// the turn resets once the executor moves on.
TEST_F(EngineTest, CurrentExecutorTurnShowsAStuckExecutor) {
  std::unique_ptr<Engine> engine = MakeEngine(EngineOptions());
  EXPECT_EQ(engine->CurrentExecutorTurn(), absl::ZeroDuration());
  TrainingRequest request;
  request.task = datasets::Task::kClassify;
  request.spec = Shallow(4);
  request.options.epochs = 3;
  request.options.batch_size = 2;
  request.train.task = request.valid.task = datasets::Task::kClassify;
  request.train.classification = {{"good", "pos"}, {"bad", "neg"}};
  request.train.labels = request.valid.labels = {"neg", "pos"};
  request.valid.classification = request.train.classification;
  absl::Notification entered, release;
  absl::StatusOr<TrainingOutcome> outcome = absl::UnknownError("not run");
  std::thread trainer([&] {
    outcome = engine->Train(std::move(request), nullptr, nullptr, [&] {
      if (!entered.HasBeenNotified()) {
        entered.Notify();
        release.WaitForNotification();  // stuck inside the executor's turn
      }
      return true;
    });
  });
  entered.WaitForNotification();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_GE(engine->CurrentExecutorTurn(), absl::Milliseconds(90));
  release.Notify();
  trainer.join();
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kCancelled);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (engine->CurrentExecutorTurn() > absl::ZeroDuration() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(engine->CurrentExecutorTurn(), absl::ZeroDuration());
}

// A tenant flooding the queue (16 calls of 256 texts in flight, as fast as
// they complete) must not deny a light tenant service: the light tenant's
// 1-text calls all succeed, and wait at most about one batch behind the
// flood (start-time fair batching), not behind the flood's backlog.
// bfloat16 serving (CPU here; the same casts serve CUDA): prompts are cast
// once as they enter the cache, and every serving path - cls / mean /
// [MASK] pooling, shallow prefix / infix / template, deep, case embeddings,
// tagging, all in mixed batches - answers as float32 does, within bfloat16's
// precision (8 mantissa bits through 6 layers).
TEST_F(EngineTest, BFloat16ServingAnswersAsFloat32) {
  absl::StatusOr<std::unique_ptr<backbone::Backbone>> made = backbone::Backbone::Create(
      {.dir = ptune::testing::BackboneDir(), .device = "cpu", .dtype = "bfloat16"});
  ASSERT_TRUE(made.ok()) << made.status();
  std::shared_ptr<const backbone::Backbone> half = std::move(*made);
  ASSERT_EQ(half->dtype(), at::kBFloat16);
  const ParityPrompts prompts = AddParityPrompts(*loader_);
  std::unique_ptr<Engine> full = MakeEngine(EngineOptions());
  absl::StatusOr<std::unique_ptr<Engine>> half_engine =
      Engine::Create(EngineOptions(), half, loader_.get());
  ASSERT_TRUE(half_engine.ok()) << half_engine.status();
  constexpr double kTolerance = 0.03;  // per probability
  const ParityReport report =
      CompareAnswers(*full, **half_engine, prompts, ParityTexts(), kTolerance);
  std::cout << "bf16 vs f32: worst probability difference " << report.worst
            << "; labels compared " << report.compared_labels << "; entities "
            << report.same_entities << " of " << report.entities << " identical\n";
  EXPECT_GT(report.compared_labels, 0);
  EXPECT_GE(report.same_entities, 0.9 * report.entities);
  // The resident prompts were cast once, as they entered the cache: half the
  // bytes.
  EXPECT_EQ(2 * (*half_engine)->cache_stats().resident_bytes, full->cache_stats().resident_bytes);

  // Training on the bfloat16 backbone keeps float32 master weights: the
  // prompt it returns is float32 and finite, and the job's deep prompt (cast
  // per forward) and head (states cast up) learn.
  const char* words[] = {"good", "bad", "great", "awful", "fine", "poor"};
  std::vector<std::string> train_texts;
  for (int i = 0; i < 12; ++i) train_texts.push_back(absl::StrCat("it was ", words[i % 6]));
  for (const prompts::PromptSpec& spec : {Shallow(4), Deep(4)}) {
    TrainingRequest request = ShallowTrainingRequest(train_texts, /*epochs=*/2);
    request.spec = spec;
    request.options.max_tokens = 16;
    absl::StatusOr<TrainingOutcome> outcome =
        (*half_engine)->Train(std::move(request), nullptr, nullptr, nullptr);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(outcome->model->PromptTensor().scalar_type(), at::kFloat);
    EXPECT_TRUE(outcome->model->CheckFinite().ok());
    EXPECT_EQ(outcome->result.epochs.size(), 2u);
  }
}

// Ensembles: a text runs under every member (mixed into the same batches:
// t1's shallow prefix and prefix+infix mean-pooled prompts) and the answer
// is the mean of the members' probabilities.
TEST_F(EngineTest, EnsembleAveragesItsMembersProbabilities) {
  std::unique_ptr<Engine> engine = MakeEngine(EngineOptions());
  const std::vector<std::string> texts = {"a fine film", "it was dull and far too long"};
  std::vector<ClassifyResponse> alone;
  for (const PromptKey& key : {Key("t1", "cls_s4"), Key("t1", "cls_s6")}) {
    Answer<ClassifyResponse> answer;
    engine->Classify(Request(key, texts), answer.Callback());
    ASSERT_TRUE(answer.Wait().ok()) << answer.Wait().status();
    alone.push_back(*answer.Wait());
  }
  ClassifyRequest request = Request(Key("t1", "cls_s4"), texts);
  request.ensemble = {Key("t1", "cls_s6")};
  Answer<ClassifyResponse> mixed;
  engine->Classify(std::move(request), mixed.Callback());
  ASSERT_TRUE(mixed.Wait().ok()) << mixed.Wait().status();
  const ClassifyResponse& both = *mixed.Wait();
  ASSERT_EQ(both.results.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& probabilities = both.results[i].probabilities;
    ASSERT_EQ(probabilities.size(), 2u);
    int best = 0;
    for (int c = 0; c < 2; ++c) {
      const double expected = (alone[0].results[i].probabilities[c].second +
                               alone[1].results[i].probabilities[c].second) / 2;
      EXPECT_NEAR(probabilities[c].second, expected, 1e-5) << "text " << i;
      if (probabilities[c].second > probabilities[best].second) best = c;
    }
    EXPECT_EQ(both.results[i].label, probabilities[best].first);
    EXPECT_FLOAT_EQ(both.results[i].score, probabilities[best].second);
  }
}

// Tagging ensembles average per-token probabilities, then decode once: two
// members with the same weights answer what one does.
TEST_F(EngineTest, TagEnsembleOfIdenticalMembersEqualsOneMember) {
  const std::vector<std::string> bio = training::BioLabelSet({"LOC", "PER"});
  loader_->Add(PromptKey{"t4", "tag_s5", 2},
               Recipe{.task = datasets::Task::kTag, .labels = bio, .spec = Shallow(5), .seed = 5});
  std::unique_ptr<Engine> engine = MakeEngine(EngineOptions());
  const std::vector<std::string> texts = {"John lives in New York City with Mary",
                                          "Zoë met José in Köln yesterday"};
  Answer<TagResponse> one;
  engine->TagEntities(Request(Key("t4", "tag_s5"), texts), one.Callback());
  ClassifyRequest request = Request(Key("t4", "tag_s5"), texts);
  request.ensemble = {PromptKey{"t4", "tag_s5", 2}};
  Answer<TagResponse> two;
  engine->TagEntities(std::move(request), two.Callback());
  ASSERT_TRUE(one.Wait().ok()) << one.Wait().status();
  ASSERT_TRUE(two.Wait().ok()) << two.Wait().status();
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<Entity>& a = one.Wait()->results[i].entities;
    const std::vector<Entity>& b = two.Wait()->results[i].entities;
    ASSERT_EQ(a.size(), b.size()) << texts[i];
    for (size_t e = 0; e < a.size(); ++e) {
      EXPECT_EQ(a[e].type, b[e].type);
      EXPECT_EQ(a[e].start, b[e].start);
      EXPECT_EQ(a[e].end, b[e].end);
      EXPECT_NEAR(a[e].score, b[e].score, 1e-5);
    }
  }
}

TEST_F(EngineTest, EnsembleErrorsAreClear) {
  std::unique_ptr<Engine> engine = MakeEngine(EngineOptions());
  const auto classify = [&](std::vector<PromptKey> members, int texts = 1) {
    ClassifyRequest request =
        Request(Key("t1", "cls_s4"), std::vector<std::string>(texts, "fine"));
    request.ensemble = std::move(members);
    Answer<ClassifyResponse> answer;
    engine->Classify(std::move(request), answer.Callback());
    return answer.Wait().status();
  };
  // Another label set ({a, b, c}; also another tenant's prompt, refused first).
  loader_->Add(Key("t1", "cls_abc"), Recipe{.labels = {"a", "b", "c"}, .spec = Deep(8)});
  absl::Status status = classify({Key("t1", "cls_abc")});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_NE(status.message().find("different label sets"), std::string::npos) << status;
  // Same labels, other order.
  loader_->Add(Key("t1", "cls_posneg"), Recipe{.labels = {"pos", "neg"}, .spec = Shallow(4)});
  EXPECT_TRUE(absl::IsInvalidArgument(classify({Key("t1", "cls_posneg")})));
  // Another task.
  loader_->Add(Key("t1", "tag"), Recipe{.task = datasets::Task::kTag,
                                        .labels = training::BioLabelSet({"LOC"}),
                                        .spec = Shallow(4)});
  status = classify({Key("t1", "tag")});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_NE(status.message().find("is a tag prompt"), std::string::npos) << status;
  // A member twice, another tenant's member, too many members, too many rows.
  EXPECT_TRUE(absl::IsInvalidArgument(classify({Key("t1", "cls_s4")})));
  EXPECT_TRUE(absl::IsInvalidArgument(classify({Key("t2", "cls_s12")})));
  std::vector<PromptKey> many;
  for (int v = 2; v <= kMaxEnsemblePrompts + 1; ++v) many.push_back({"t1", "cls_s4", v});
  status = classify(many);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_NE(status.message().find("at most 8"), std::string::npos) << status;
  status = classify({Key("t1", "cls_s6")}, 200);  // 400 rows > 256
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  // A missing member is the loader's NOT_FOUND.
  EXPECT_TRUE(absl::IsNotFound(classify({Key("t1", "missing")})));
  // And a good one still works.
  EXPECT_TRUE(classify({Key("t1", "cls_s6")}).ok());
}

// EvaluatePrompt's engine side scores exactly as the offline evaluation
// (training::Evaluate, as `ptune-inspect eval` and training's validation)
// with the driver's batch size: the same predictions, the same report.
TEST_F(EngineTest, EvaluateScoresExactlyAsTheOfflineEvaluation) {
  std::unique_ptr<Engine> engine = MakeEngine(EngineOptions());
  const int rows = TrainingDriverOptions().max_eval_rows_per_slice;
  absl::StatusOr<datasets::Dataset> reviews = datasets::ParseDataset(
      "text\tlabel\na fine film\tpos\nit was dull and far too long\tneg\n"
      "great acting , a moving story\tpos\nboring\tneg\nI loved every minute of it\tpos\n"
      "the plot makes no sense at all and the jokes fall flat\tneg\n",
      "reviews", datasets::Task::kClassify, datasets::Format::kTsv);
  ASSERT_TRUE(reviews.ok()) << reviews.status();
  const auto evaluate = [&](EvaluateRequest request) {
    Answer<training::Evaluation> answer;
    engine->Evaluate(std::move(request), answer.Callback());
    return answer.Wait();
  };
  EvaluateRequest request{.key = Key("t1", "cls_s4"), .data = *reviews};
  absl::StatusOr<training::Evaluation> served = evaluate(request);
  ASSERT_TRUE(served.ok()) << served.status();
  std::unique_ptr<prompts::PromptModel> model = loader_->Make(Key("t1", "cls_s4"));
  absl::StatusOr<training::Evaluation> offline =
      training::Evaluate(*backbone_, *model, *reviews, rows, EngineOptions().max_tokens);
  ASSERT_TRUE(offline.ok()) << offline.status();
  EXPECT_EQ(served->predicted_labels, offline->predicted_labels);
  EXPECT_EQ(served->metrics, offline->metrics);
  EXPECT_EQ(served->classification.confusion, offline->classification.confusion);
  ASSERT_EQ(served->classification.per_label.size(), 2u);
  int64_t support = 0;
  for (const training::ClassScores& label : served->classification.per_label) {
    support += label.support;
  }
  EXPECT_EQ(support, 6);

  // An ensemble: the members' mean, as the offline ensemble evaluation.
  request.ensemble = {Key("t1", "cls_s6")};
  served = evaluate(request);
  ASSERT_TRUE(served.ok()) << served.status();
  std::unique_ptr<prompts::PromptModel> second = loader_->Make(Key("t1", "cls_s6"));
  offline = training::Evaluate(*backbone_, {model.get(), second.get()}, *reviews, rows,
                               EngineOptions().max_tokens);
  ASSERT_TRUE(offline.ok()) << offline.status();
  EXPECT_EQ(served->predicted_labels, offline->predicted_labels);
  EXPECT_EQ(served->metrics, offline->metrics);

  // Tagging: entity scores per type.
  absl::StatusOr<datasets::Dataset> sentences = datasets::ParseDataset(
      "John B-PER\nlives O\nin O\nNew B-LOC\nYork I-LOC\n\n"
      "Mary B-PER\nmet O\nJosé B-PER\nin O\nKöln B-LOC\nyesterday O\n",
      "sentences", datasets::Task::kTag, datasets::Format::kConll);
  ASSERT_TRUE(sentences.ok()) << sentences.status();
  served = evaluate(EvaluateRequest{.key = Key("t4", "tag_s5"), .data = *sentences});
  ASSERT_TRUE(served.ok()) << served.status();
  std::unique_ptr<prompts::PromptModel> tagger = loader_->Make(Key("t4", "tag_s5"));
  offline = training::Evaluate(*backbone_, *tagger, *sentences, rows, EngineOptions().max_tokens);
  ASSERT_TRUE(offline.ok()) << offline.status();
  EXPECT_EQ(served->predicted_entities, offline->predicted_entities);
  EXPECT_EQ(served->metrics, offline->metrics);
  EXPECT_EQ(served->entities.gold, 5);

  // Errors: a label the prompt lacks names the example; data of the other
  // task; an ensemble of another label set; a missing prompt.
  datasets::Dataset unknown = *reviews;
  unknown.classification[3].label = "meh";
  absl::StatusOr<training::Evaluation> refused =
      evaluate(EvaluateRequest{.key = Key("t1", "cls_s4"), .data = unknown});
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("example 3 has label 'meh'"), std::string::npos)
      << refused.status();
  refused = evaluate(EvaluateRequest{.key = Key("t1", "cls_s4"), .data = *sentences});
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  loader_->Add(Key("t1", "cls_abc"), Recipe{.labels = {"a", "b", "c"}, .spec = Deep(8)});
  refused = evaluate(EvaluateRequest{
      .key = Key("t1", "cls_s4"), .ensemble = {Key("t1", "cls_abc")}, .data = *reviews});
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_TRUE(absl::IsNotFound(
      evaluate(EvaluateRequest{.key = Key("t1", "missing"), .data = *reviews}).status()));
  // A cancelled evaluation stops before its next batch.
  auto cancelled = std::make_shared<std::atomic<bool>>(true);
  refused = evaluate(
      EvaluateRequest{.key = Key("t1", "cls_s4"), .data = *reviews, .cancelled = cancelled});
  EXPECT_TRUE(absl::IsCancelled(refused.status())) << refused.status();
}

// One round of the flood test: the light tenant's latencies alone, then
// under the flood, and the executor's counters over the flood.
struct FloodRound {
  std::vector<double> idle, loaded;
  int light_failures = 0;
  ExecutorStats before, after;
  int flood_calls = 0, flood_unavailable = 0;
};

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1))];
}

TEST_F(EngineTest, FloodingTenantDoesNotDenyALightOne) {
  EngineOptions options;
  options.batching.max_queue_size = 1024;
  options.batching.max_queue_per_tenant = 512;
  std::unique_ptr<Engine> engine = MakeEngine(options);
  const PromptKey light = Key("t1", "cls_s4"), flood = Key("t2", "cls_s12");
  Preload(*engine, light);
  Preload(*engine, flood);

  const auto run_round = [&] {
    FloodRound round;
    const auto light_call = [&]() -> absl::StatusOr<double> {
      Answer<ClassifyResponse> answer;
      const absl::Time start = absl::Now();
      engine->Classify(Request(light, {"a short and friendly review"}), answer.Callback());
      const absl::Status status = answer.Wait().status();
      if (!status.ok()) return status;
      return absl::ToDoubleSeconds(absl::Now() - start);
    };
    // 40 light calls in sequence, their latencies into `into`.
    const auto light_calls = [&](std::vector<double>& into, const char* when) {
      for (int i = 0; i < 40; ++i) {
        absl::StatusOr<double> seconds = light_call();
        if (!seconds.ok()) {
          ++round.light_failures;
          ADD_FAILURE() << "light tenant refused " << when << ": " << seconds.status();
          continue;
        }
        into.push_back(*seconds);
      }
    };
    light_calls(round.idle, "while idle");

    // The flood: a feeder keeps 16 calls of 256 texts in flight.
    std::atomic<bool> flooding{true};
    std::atomic<int> flood_calls{0}, flood_unavailable{0}, in_flight{0};
    const std::vector<std::string> texts(256, "the plot was thin but the actors were great");
    std::thread feeder([&] {
      while (flooding.load()) {
        if (in_flight.load() >= 16) {
          absl::SleepFor(absl::Milliseconds(1));
          continue;
        }
        in_flight.fetch_add(1);
        engine->Classify(Request(flood, texts), [&](absl::StatusOr<ClassifyResponse> r) {
          flood_calls.fetch_add(1);
          if (absl::IsUnavailable(r.status())) flood_unavailable.fetch_add(1);
          in_flight.fetch_sub(1);
        });
        absl::SleepFor(absl::Milliseconds(1));  // a client's retry pause
      }
    });
    absl::SleepFor(absl::Milliseconds(200));
    round.before = engine->executor_stats();
    light_calls(round.loaded, "under the flood");
    round.after = engine->executor_stats();
    flooding.store(false);
    feeder.join();
    while (in_flight.load() > 0) absl::SleepFor(absl::Milliseconds(5));
    round.flood_calls = flood_calls.load();
    round.flood_unavailable = flood_unavailable.load();
    return round;
  };

  // This machine's speed swings by up to ~40% from one second to the next,
  // and p99 of 40 calls is close to their maximum, so the latency bound is
  // asked of the best of up to 3 rounds (each measures idle, then the
  // flood). Without the preemption every round misses it (2.6-4.9x in 6
  // rounds, 2026-12-07), and no light forward runs.
  // Everything else must hold in every round.
  double best_ratio = std::numeric_limits<double>::infinity();
  for (int r = 0; r < 3 && best_ratio > 2.0; ++r) {
    const FloodRound round = run_round();
    ASSERT_EQ(round.light_failures, 0);
    const ExecutorStats& before = round.before;
    const ExecutorStats& after = round.after;
    // The flood was real: it filled its share and was turned away.
    EXPECT_GT(after.scheduler.rejected_tenant_limit + after.scheduler.pushed_out,
              before.scheduler.rejected_tenant_limit + before.scheduler.pushed_out);
    const int64_t batches = std::max<int64_t>(1, after.batches - before.batches);
    const double batch_seconds = (after.serving_seconds - before.serving_seconds) / batches;
    const double idle_p99 = Percentile(round.idle, 0.99);
    const double loaded_p99 = Percentile(round.loaded, 0.99);
    std::cout << "round " << r + 1 << ": light tenant p50/p99: idle "
              << Percentile(round.idle, 0.5) * 1e3 << " / " << idle_p99 * 1e3
              << " ms, under flood " << Percentile(round.loaded, 0.5) * 1e3 << " / "
              << loaded_p99 * 1e3 << " ms (" << loaded_p99 / idle_p99 << "x); mean forward "
              << batch_seconds * 1e3 << " ms; light forwards "
              << after.light_forwards - before.light_forwards << " of "
              << after.batches - before.batches << "; flood calls " << round.flood_calls << " ("
              << round.flood_unavailable << " UNAVAILABLE)\n";
    // CPU batches aim at cpu_max_forward_tokens (256) padded positions, so a
    // light row never waits behind a long forward (a lone long row may exceed
    // it; these rows are ~20 positions).
    EXPECT_LE(static_cast<double>(after.padded_tokens - before.padded_tokens) / batches, 256.0);
    // The light rows ran at the pauses of the flood's forwards (rule 5 of
    // BatchScheduler).
    EXPECT_GT(after.light_forwards - before.light_forwards, 0);
    best_ratio = std::min(best_ratio, loaded_p99 / idle_p99);
  }
  // So a light call waits for one block, not for the forward in progress
  // nor the flood's backlog (512 queued rows: ~25 forwards): its p99 stays
  // within 2x of idle (issue 14; 0.84-1.41x here, 2.6-5.4x without the
  // preemption, tests/bench/README.md).
  EXPECT_LE(best_ratio, 2.0);
}

}  // namespace
}  // namespace ptune::engine
