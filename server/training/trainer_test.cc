// Training on learnable toy tasks with the real (frozen) backbone: a few
// steps each, so the suite stays fast.
#include "server/training/trainer.h"

#include <filesystem>

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/training/evaluator.h"
#include "server/training/task_batch.h"
#include "server/training/training_job.h"
#include "server/training/toy_training_test.h"

namespace ptune::training {
namespace {

namespace fs = std::filesystem;
using datasets::Dataset;
using datasets::Task;

using TrainerTest = testing::ToyTrainingTest;
using testing::People;
using testing::Sentiment;

TEST_F(TrainerTest, EveryPromptKindAndHeadLearnsAToyTask) {
  struct Case {
    const char* name;
    prompts::PromptSpec spec;
  };
  std::vector<Case> cases;
  prompts::PromptSpec s;
  s.length = 4;
  cases.push_back({"deep cls", s});
  s.reparam = prompts::Reparam::kMlp;
  s.mlp_hidden = 32;
  cases.push_back({"deep mlp", s});
  s = {};
  s.kind = prompts::PromptKind::kShallow;
  s.init = prompts::PromptInit::kVocab;
  s.length = 4;
  cases.push_back({"shallow prefix cls", s});
  s.placement = prompts::Placement::kInfix;
  s.pooling = prompts::HeadPooling::kMean;
  s.l2 = 1e-4;
  s.dropout = 0.1;
  cases.push_back({"shallow infix mean", s});
  s = {};
  s.kind = prompts::PromptKind::kShallow;
  s.init = prompts::PromptInit::kVocab;
  s.length = 4;
  s.template_text = "<soft:4> {text} It was [MASK] .";
  s.pooling = prompts::HeadPooling::kMask;
  s.verbalizer = {"bad", "good"};  // labels are {neg, pos}
  cases.push_back({"shallow template verbalizer", s});
  s = {};
  s.length = 4;
  s.template_text = "{text} All in all, it was [MASK] .";
  s.pooling = prompts::HeadPooling::kMask;
  cases.push_back({"deep hard template mask", s});
  const Dataset data = Sentiment();
  for (const Case& c : cases) {
    auto model = Make(data, c.spec);
    auto result = Train(*backbone_, *model, data, data, Quick(4));
    ASSERT_TRUE(result.ok()) << c.name << ": " << result.status();
    ASSERT_EQ(result->epochs.size(), 4u) << c.name;
    EXPECT_LT(result->epochs.back().train_loss, result->epochs.front().train_loss)
        << c.name;
    EXPECT_GE(result->best_valid_metric, 0.9) << c.name;
  }
}

TEST_F(TrainerTest, TaggingLearnsEntitiesWithOffsets) {
  const Dataset data = People();
  for (bool case_embeddings : {false, true}) {
    SCOPED_TRACE(case_embeddings ? "with case embeddings" : "without");
    prompts::PromptSpec spec;
    spec.length = 4;
    spec.case_embeddings = case_embeddings;
    auto model = Make(data, spec);
    auto result = Train(*backbone_, *model, data, data, Quick(6));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_LT(result->epochs.back().train_loss, result->epochs.front().train_loss);
    auto eval = Evaluate(*backbone_, *model, data, 16, 64);
    ASSERT_TRUE(eval.ok()) << eval.status();
    EXPECT_GE(eval->primary, 0.9) << eval->metrics.dump();
    // Predicted spans index the original text.
    for (size_t i = 0; i < data.tagging.size(); ++i) {
      for (const auto& span : eval->predicted_entities[i]) {
        const std::string text =
            data.tagging[i].text.substr(span.begin, span.end - span.begin);
        if (span.type == "PER") EXPECT_EQ(text, data.tagging[i].text.substr(0, text.size()));
      }
    }
    if (!case_embeddings) continue;
    // The Title row (every name and place) moved; rows of classes absent
    // from the data (UPPER, mIxed) got no gradient and stay zero.
    const at::Tensor table = model->CaseEmbeddings();
    EXPECT_GT(table[2].abs().sum().item<double>(), 0);
    EXPECT_EQ(table[3].abs().sum().item<double>(), 0);
    EXPECT_EQ(table[4].abs().sum().item<double>(), 0);
  }
}

TEST_F(TrainerTest, BackboneWeightsAreBitIdenticalAfterTraining) {
  std::vector<at::Tensor> before;
  for (const at::Tensor& p : backbone_->Parameters()) before.push_back(p.clone());
  const Dataset data = Sentiment();
  prompts::PromptSpec spec;
  spec.length = 2;
  auto model = Make(data, spec);
  ASSERT_TRUE(Train(*backbone_, *model, data, data, Quick(1)).ok());
  const std::vector<at::Tensor> after = backbone_->Parameters();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(after[i].equal(before[i])) << "parameter " << i;
    EXPECT_FALSE(after[i].grad().defined()) << "parameter " << i;
  }
}

TEST_F(TrainerTest, ResumeFromCheckpointEqualsUninterruptedTraining) {
  const Dataset data = Sentiment();
  prompts::PromptSpec spec;
  spec.length = 3;
  spec.dropout = 0.2;  // exercises the saved RNG state
  spec.case_embeddings = true;  // and a second optimizer param group
  auto straight = Make(data, spec);
  ASSERT_TRUE(Train(*backbone_, *straight, data, data, Quick(3)).ok());

  const fs::path checkpoint = fs::temp_directory_path() /
                              ("ptune_ckpt_" + std::to_string(::getpid()));
  fs::remove(checkpoint);
  TrainOptions first = Quick(3);
  first.checkpoint_path = checkpoint.string();
  first.max_steps = 5;  // the first epoch (5 steps), then "crash"
  auto interrupted = Make(data, spec);
  ASSERT_TRUE(Train(*backbone_, *interrupted, data, data, first).ok());
  ASSERT_TRUE(fs::exists(checkpoint));

  TrainOptions rest = Quick(3);
  rest.checkpoint_path = checkpoint.string();
  auto resumed = Make(data, spec);  // a new process would start from scratch
  auto result = Train(*backbone_, *resumed, data, data, rest);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->epochs.size(), 3u);
  EXPECT_TRUE(resumed->PromptTensor().equal(straight->PromptTensor()));
  EXPECT_TRUE(resumed->CaseEmbeddings().equal(straight->CaseEmbeddings()));
  EXPECT_GT(straight->CaseEmbeddings().abs().sum().item<double>(), 0);
  fs::remove(checkpoint);
}

TEST_F(TrainerTest, CancelledTrainingStopsBetweenSteps) {
  const Dataset data = Sentiment();
  prompts::PromptSpec spec;
  spec.length = 2;
  auto model = Make(data, spec);
  std::atomic<bool> cancelled{true};
  auto result = Train(*backbone_, *model, data, data, Quick(2), nullptr, &cancelled);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->cancelled);
  EXPECT_TRUE(result->epochs.empty());
}

TEST_F(TrainerTest, EnsembleAveragesProbabilitiesOfOneLabelSet) {
  const Dataset data = Sentiment();
  prompts::PromptSpec spec;
  spec.length = 2;
  auto a = Make(data, spec);
  ASSERT_TRUE(Train(*backbone_, *a, data, data, Quick(2)).ok());
  spec.length = 3;
  auto b = Make(data, spec);
  ASSERT_TRUE(Train(*backbone_, *b, data, data, Quick(2)).ok());
  auto single = Evaluate(*backbone_, *a, data, 16, 64);
  auto twice = Evaluate(*backbone_, {a.get(), a.get()}, data, 16, 64);
  ASSERT_TRUE(single.ok() && twice.ok());
  EXPECT_EQ(single->predicted_labels, twice->predicted_labels);
  auto mixed = Evaluate(*backbone_, {a.get(), b.get()}, data, 16, 64);
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_GE(mixed->primary, 0.9);
  auto other = prompts::PromptModel::Create(*backbone_, Task::kClassify,
                                            {"x", "y"}, spec, 1);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Evaluate(*backbone_, {a.get(), other->get()}, data, 16, 64).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Drives `job` to its end, as Train does (without checkpoints).
void RunToEnd(TrainingJob& job) {
  while (job.phase() != TrainingJob::Phase::kDone) {
    if (job.phase() == TrainingJob::Phase::kStep) {
      ASSERT_TRUE(job.Step().ok());
    } else {
      ASSERT_TRUE(job.EndEpoch().ok());
    }
  }
}

// The aux model scoring through `main`'s prompt, as its rows did in
// training: a copy of the aux model with the main model's prompt.
std::unique_ptr<prompts::PromptModel> WithPromptOf(const backbone::Backbone& backbone,
                                                   const prompts::PromptModel& aux,
                                                   const prompts::PromptModel& main) {
  auto model = prompts::PromptModel::FromTensors(
      backbone, aux.task(), aux.labels(), aux.spec(), main.PromptTensor(), aux.HeadWeight(),
      aux.HeadBias(), aux.CaseEmbeddings());
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

TEST_F(TrainerTest, MultiTaskJobTrainsOneSharedPromptThroughEveryHead) {
  const Dataset sentiment = Sentiment(), people = People();
  prompts::PromptSpec spec;
  spec.length = 4;
  auto main = Make(sentiment, spec);
  auto aux = Make(people, spec);
  const at::Tensor aux_prompt_before = aux->PromptTensor().clone();
  TrainOptions options = Quick(6);
  auto job = TrainingJob::Create(*backbone_, *main, sentiment, sentiment, options,
                                 {{aux.get(), &people}});
  ASSERT_TRUE(job.ok()) << job.status();
  while ((*job)->phase() == TrainingJob::Phase::kStep) ASSERT_TRUE((*job)->Step().ok());
  // One epoch is a pass over both sets: 40 / 8 + ceil(18 / 8) steps.
  EXPECT_EQ((*job)->step(), 5 + 3);
  RunToEnd(**job);
  auto result = (*job)->Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(result->best_valid_metric, 0.9);
  // The tagging head learned its task through the main model's prompt; its
  // own prompt was never read, so never trained.
  EXPECT_TRUE(aux->PromptTensor().equal(aux_prompt_before));
  auto tagger = WithPromptOf(*backbone_, *aux, *main);
  auto tagged = Evaluate(*backbone_, *tagger, people, 16, 64);
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_GE(tagged->primary, 0.8) << tagged->metrics.dump();
  // The tagging rows moved the shared prompt: without them it ends elsewhere.
  auto alone = Make(sentiment, spec);
  ASSERT_TRUE(Train(*backbone_, *alone, sentiment, sentiment, options).ok());
  EXPECT_FALSE(alone->PromptTensor().allclose(main->PromptTensor(), 1e-4, 1e-5));
}

TEST_F(TrainerTest, MultiTaskCheckpointResumesEveryHeadExactly) {
  const Dataset sentiment = Sentiment(), people = People();
  prompts::PromptSpec spec;
  spec.length = 3;
  spec.dropout = 0.2;
  spec.case_embeddings = true;
  struct Run {
    std::unique_ptr<prompts::PromptModel> main, aux;
    std::unique_ptr<TrainingJob> job;
  };
  const auto start = [&]() {
    Run run{Make(sentiment, spec), Make(people, spec), nullptr};
    auto job = TrainingJob::Create(*backbone_, *run.main, sentiment, sentiment, Quick(2),
                                   {{run.aux.get(), &people}});
    EXPECT_TRUE(job.ok()) << job.status();
    run.job = std::move(*job);
    return run;
  };
  Run straight = start();
  RunToEnd(*straight.job);
  Run first = start();
  while (first.job->phase() == TrainingJob::Phase::kStep) ASSERT_TRUE(first.job->Step().ok());
  ASSERT_TRUE(first.job->EndEpoch().ok());
  auto bytes = first.job->CheckpointBytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  Run resumed = start();
  ASSERT_TRUE(resumed.job->RestoreCheckpoint(*bytes).ok());
  RunToEnd(*resumed.job);
  ASSERT_TRUE(straight.job->Finish().ok() && resumed.job->Finish().ok());
  EXPECT_TRUE(resumed.main->PromptTensor().equal(straight.main->PromptTensor()));
  EXPECT_TRUE(resumed.aux->HeadWeight().equal(straight.aux->HeadWeight()));
  EXPECT_TRUE(resumed.aux->CaseEmbeddings().equal(straight.aux->CaseEmbeddings()));
  EXPECT_GT(straight.aux->CaseEmbeddings().abs().sum().item<double>(), 0);
}

TEST_F(TrainerTest, MultiTaskJobRefusesHeadsThatCannotShareThePrompt) {
  const Dataset sentiment = Sentiment(), people = People();
  prompts::PromptSpec spec;
  spec.length = 4;
  auto main = Make(sentiment, spec);
  prompts::PromptSpec shorter = spec;
  shorter.length = 2;
  auto short_aux = Make(people, shorter);
  auto job = TrainingJob::Create(*backbone_, *main, sentiment, sentiment, Quick(1),
                                 {{short_aux.get(), &people}});
  ASSERT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(job.status().message()), ::testing::HasSubstr("share one prompt"));
  auto tagger = Make(people, spec);
  job = TrainingJob::Create(*backbone_, *main, sentiment, sentiment, Quick(1),
                            {{tagger.get(), &sentiment}});
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  job = TrainingJob::Create(*backbone_, *main, sentiment, sentiment, Quick(1),
                            {{main.get(), &sentiment}});
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
}

// max_tokens from the data: short texts keep the default, long ones are
// read up to their 95th percentile, never past the backbone's positions.
TEST_F(TrainerTest, DefaultMaxTokensCoversLongTextsUpToTheBackbone) {
  Dataset data = Sentiment();
  auto tokens = DefaultMaxTokens(*backbone_, data);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(*tokens, prompts::kDefaultMaxTokens);
  // 100 texts of 200 words ("w" is one token) + [CLS]/[SEP]: 202 -> 208.
  std::string words;
  for (int i = 0; i < 200; ++i) words += i == 0 ? "w" : " w";
  data.classification.clear();
  for (int i = 0; i < 100; ++i) data.classification.push_back({words, i % 2 ? "pos" : "neg"});
  tokens = DefaultMaxTokens(*backbone_, data);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(*tokens, 208);
  data.classification[0].text = words + words + words;  // one outlier: the 95th percentile holds
  EXPECT_EQ(*DefaultMaxTokens(*backbone_, data), 208);
  for (auto& example : data.classification) example.text = words + words + words;
  EXPECT_EQ(*DefaultMaxTokens(*backbone_, data), backbone_->config().max_position_embeddings);
  // A trained model records what it was trained with.
  const Dataset sentiment = Sentiment();
  prompts::PromptSpec spec;
  spec.length = 2;
  auto model = Make(sentiment, spec);
  TrainOptions options = Quick(1);
  options.max_tokens = 24;
  ASSERT_TRUE(Train(*backbone_, *model, sentiment, sentiment, options).ok());
  EXPECT_EQ(model->max_tokens(), 24);
}

// Epochs from the data: about kDefaultExamplePasses rows seen, so small sets
// get more epochs than large ones, within [kMinDefaultEpochs,
// kMaxDefaultEpochs].
TEST(TrainerDefaultsTest, DefaultEpochsShrinkAsTheTrainingSetGrows) {
  EXPECT_EQ(DefaultEpochs(0), kMaxDefaultEpochs);
  EXPECT_EQ(DefaultEpochs(200), kMaxDefaultEpochs);     // a handful of examples
  EXPECT_EQ(DefaultEpochs(3394), kMaxDefaultEpochs);    // WNUT-17: 36 -> the cap
  EXPECT_EQ(DefaultEpochs(14041), 9);                   // CoNLL-2003: ceil(120000 / 14041)
  EXPECT_EQ(DefaultEpochs(67349), kMinDefaultEpochs);   // SST-2: 2
  EXPECT_EQ(DefaultEpochs(10'000'000), kMinDefaultEpochs);
  for (size_t n = 1; n < 200000; n = n * 3 / 2 + 1) {
    EXPECT_LE(DefaultEpochs(n + n / 2 + 1), DefaultEpochs(n)) << n;
  }
}

TEST(TrainerScheduleTest, WarmupThenLinearDecay) {
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(1.0, 0, 100, 0.1), 0.1);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(1.0, 9, 100, 0.1), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(1.0, 10, 100, 0.1), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(1.0, 55, 100, 0.1), 0.5);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(1.0, 100, 100, 0.1), 0.0);
}

TEST(TrainerScheduleTest, EpochOrderIsASeededPermutation) {
  const auto a = EpochOrder(50, 1, 0);
  EXPECT_EQ(a, EpochOrder(50, 1, 0));
  EXPECT_NE(a, EpochOrder(50, 1, 1));
  EXPECT_NE(a, EpochOrder(50, 2, 0));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
}

TEST(TaskBatchTest, FirstSubwordOfEachWord) {
  // "[CLS] new york ##er ! [SEP]" over "New Yorker!" (words: New, Yorker, !)
  const std::vector<datasets::Span> words = {{0, 3, ""}, {4, 10, ""}, {10, 11, ""}, {12, 13, ""}};
  const std::vector<std::pair<int32_t, int32_t>> offsets = {
      {0, 0}, {0, 3}, {4, 8}, {8, 10}, {10, 11}, {0, 0}};
  EXPECT_EQ(FirstTokenOfEachWord(words, offsets),
            (std::vector<int32_t>{1, 2, 4, -1}));
}

}  // namespace
}  // namespace ptune::training
