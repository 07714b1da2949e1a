// Batched multi-job training against training each job alone, on the real
// (frozen) backbone, CPU.
#include "server/training/multi_job_trainer.h"

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "server/training/task_batch.h"
#include "tests/testing/model_compare.h"
#include "tests/testing/shared_backbone.h"
#include "tests/testing/test_paths.h"

namespace ptune::training {
namespace {

using ::ptune::testing::MaxParameterDifference;

using datasets::Dataset;
using datasets::Task;

Dataset Reviews() {
  Dataset d;
  d.task = Task::kClassify;
  const char* pos[] = {"good", "great", "wonderful", "lovely", "excellent", "fine"};
  const char* neg[] = {"bad", "awful", "terrible", "boring", "dreadful", "dull"};
  const char* frames[] = {"the film was %s", "a %s story with a long and winding plot",
                          "really %s acting", "%s"};
  for (const char* frame : frames) {
    for (int i = 0; i < 6; ++i) {
      char buffer[128];
      snprintf(buffer, sizeof(buffer), frame, pos[i]);
      d.classification.push_back({buffer, "pos"});
      snprintf(buffer, sizeof(buffer), frame, neg[i]);
      d.classification.push_back({buffer, "neg"});
    }
  }
  d.labels = {"neg", "pos"};
  return d;
}

Dataset Travellers() {
  Dataset d;
  d.task = Task::kTag;
  const char* people[] = {"Alice", "Bob", "Carol", "Dmitri", "Emma", "Farid"};
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 3; ++j) {
      datasets::TaggingExample ex;
      const std::string who = people[(i + j) % 6];
      ex.text = who + (j == 1 ? " left early" : " flew home today");
      const int w = static_cast<int>(who.size());
      ex.words = {{0, w, ""}};
      ex.tags = {"B-PER"};
      int at = w + 1;
      for (const char* word : j == 1 ? std::vector<const char*>{"left", "early"}
                                     : std::vector<const char*>{"flew", "home", "today"}) {
        const int len = static_cast<int>(strlen(word));
        ex.words.push_back({at, at + len, ""});
        ex.tags.push_back("O");
        at += len + 1;
      }
      ex.entities = {{0, w, "PER"}};
      d.tagging.push_back(ex);
    }
  }
  d.labels = {"PER"};
  return d;
}

// One job's ingredients; the model and job are made fresh by Build().
struct JobSpec {
  Dataset data;
  prompts::PromptSpec spec;
  TrainOptions options;
  uint64_t model_seed;
};

struct Built {
  std::unique_ptr<prompts::PromptModel> model;
  std::unique_ptr<TrainingJob> job;
};

class MultiJobTrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backbone_ = ptune::testing::SharedBackbone();
    if (backbone_ == nullptr) GTEST_SKIP() << "default backbone not installed";
    TrainOptions o;
    o.epochs = 3;
    o.batch_size = 8;
    o.learning_rate = 1e-3;
    o.warmup_fraction = 0;
    o.patience = 100;
    prompts::PromptSpec s;
    s.kind = prompts::PromptKind::kShallow;
    s.init = prompts::PromptInit::kVocab;
    s.length = 4;
    s.dropout = 0.2;  // drawn from each job's own RNG
    o.seed = 11;
    specs_.push_back({Reviews(), s, o, 1});
    s = {};
    s.length = 3;  // deep
    o.seed = 12;
    o.batch_size = 6;
    specs_.push_back({Reviews(), s, o, 2});
    s.length = 2;
    s.dropout = 0.1;
    o.seed = 13;
    o.batch_size = 5;
    specs_.push_back({Travellers(), s, o, 3});
    s = {};
    s.kind = prompts::PromptKind::kShallow;
    s.length = 6;
    s.placement = prompts::Placement::kInfix;
    s.pooling = prompts::HeadPooling::kMean;
    o.seed = 14;
    o.batch_size = 7;
    specs_.push_back({Reviews(), s, o, 4});
  }

  Built Build(const JobSpec& spec) {
    Built b;
    auto model = prompts::PromptModel::Create(*backbone_, spec.data.task,
                                              ModelLabels(spec.data), spec.spec,
                                              spec.model_seed);
    EXPECT_TRUE(model.ok()) << model.status();
    b.model = std::move(*model);
    auto job = TrainingJob::Create(*backbone_, *b.model, spec.data, spec.data,
                                   spec.options);
    EXPECT_TRUE(job.ok()) << job.status();
    b.job = std::move(*job);
    return b;
  }

  const backbone::Backbone* backbone_ = nullptr;
  std::vector<JobSpec> specs_;
};

TEST_F(MultiJobTrainerTest, BatchedStepsEqualTrainingEachJobAlone) {
  constexpr int kSteps = 4;
  std::vector<Built> alone, batched;
  for (const JobSpec& spec : specs_) {
    alone.push_back(Build(spec));
    for (int s = 0; s < kSteps; ++s) ASSERT_TRUE(alone.back().job->Step().ok());
  }
  std::vector<TrainingJob*> jobs;
  for (const JobSpec& spec : specs_) {
    batched.push_back(Build(spec));
    jobs.push_back(batched.back().job.get());
  }
  MultiJobTrainer trainer(*backbone_);
  for (int s = 0; s < kSteps; ++s) {
    for (const absl::Status& status : trainer.StepBatched(jobs)) {
      ASSERT_TRUE(status.ok()) << status;
    }
  }
  for (size_t j = 0; j < specs_.size(); ++j) {
    EXPECT_EQ(batched[j].job->step(), kSteps);
    // The parameters moved, and exactly as they did alone.
    auto fresh = Build(specs_[j]);
    EXPECT_GT(MaxParameterDifference(*batched[j].model, *fresh.model), 1e-4) << "job " << j;
    EXPECT_LE(MaxParameterDifference(*batched[j].model, *alone[j].model), 1e-4) << "job " << j;
  }
}

// Gradient accumulation: a step run as slices of a few rows gives the
// unsliced step's parameters and loss (each job's own, dropout included),
// alone and batched with other jobs' slices.
TEST_F(MultiJobTrainerTest, SlicedStepsEqualWholeSteps) {
  constexpr int kSteps = 3;
  for (size_t j = 0; j < specs_.size(); ++j) {
    JobSpec spec = specs_[j];
    spec.options.epochs = 1;
    spec.options.max_steps = kSteps;  // the epoch ends after kSteps steps
    spec.options.max_grad_norm = 0.05;  // clipping sees the whole gradient
    Built whole = Build(spec), sliced = Build(spec);
    for (int s = 0; s < kSteps; ++s) ASSERT_TRUE(whole.job->Step().ok());
    int slices = 0;
    for (int s = 0; s < kSteps; ++s) {
      do {
        ASSERT_TRUE(sliced.job->StepSlice(2).ok());
        EXPECT_LE(sliced.job->slice_rows(), 2);
        ++slices;
      } while (sliced.job->mid_step());
      EXPECT_EQ(sliced.job->step(), s + 1);
    }
    EXPECT_GE(slices, kSteps * 3) << "job " << j;
    EXPECT_GT(MaxParameterDifference(*sliced.model, *Build(spec).model), 1e-4) << "job " << j;
    // Float rounding differs between a sum of slice gradients and one
    // batch's; Adam's normalized update (m / sqrt(v)) amplifies it for
    // near-zero gradients up to ~1e-5..1e-4 after a few steps, while a
    // wrong scale or a lost slice moves parameters by ~lr (3e-2).
    EXPECT_LE(MaxParameterDifference(*sliced.model, *whole.model), 1e-4) << "job " << j;
    // The epoch's mean loss: the slices' losses add up to each batch's mean.
    ASSERT_EQ(whole.job->phase(), TrainingJob::Phase::kEvaluate);
    ASSERT_EQ(sliced.job->phase(), TrainingJob::Phase::kEvaluate);
    auto a = whole.job->EndEpoch(), b = sliced.job->EndEpoch();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NEAR(a->train_loss, b->train_loss, 1e-5) << "job " << j;
    EXPECT_NEAR(a->valid_metric, b->valid_metric, 1e-6) << "job " << j;
  }
  // Batched: every job's slice of at most 3 rows and (beyond the first row)
  // 20 text tokens in one forward/backward.
  std::vector<Built> alone, batched;
  std::vector<TrainingJob*> jobs;
  for (const JobSpec& spec : specs_) {
    alone.push_back(Build(spec));
    for (int s = 0; s < kSteps; ++s) ASSERT_TRUE(alone.back().job->Step().ok());
    batched.push_back(Build(spec));
    jobs.push_back(batched.back().job.get());
  }
  MultiJobTrainer trainer(*backbone_);
  for (int turn = 0; turn < 40; ++turn) {
    std::vector<TrainingJob*> running;
    for (TrainingJob* job : jobs) {
      if (job->step() < kSteps) running.push_back(job);
    }
    if (running.empty()) break;
    for (const absl::Status& status : trainer.StepBatched(running, 3, 20)) {
      ASSERT_TRUE(status.ok()) << status;
    }
  }
  for (size_t j = 0; j < specs_.size(); ++j) {
    EXPECT_EQ(batched[j].job->step(), kSteps);
    EXPECT_LE(MaxParameterDifference(*batched[j].model, *alone[j].model), 1e-4) << "job " << j;
  }
}

TEST_F(MultiJobTrainerTest, SliceApiChecksItsArguments) {
  Built a = Build(specs_[0]);
  EXPECT_EQ(a.job->StepSlice(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.job->EndStep(0).code(), absl::StatusCode::kFailedPrecondition);
  auto rows = a.job->BeginSlice(3);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 3u);
  EXPECT_TRUE(a.job->mid_step());
  EXPECT_EQ(a.job->StepLoss({}).status().code(), absl::StatusCode::kInvalidArgument);
  // A token budget below one row's tokens still takes that row, alone.
  auto one = a.job->BeginSlice(0, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->size(), 1u);
  EXPECT_EQ(a.job->slice_rows(), 1);
  EXPECT_EQ(a.job->BeginSlice(0, -1).status().code(), absl::StatusCode::kInvalidArgument);
  // Cancelling mid-step drops the open step.
  a.job->Cancel();
  EXPECT_FALSE(a.job->mid_step());
  EXPECT_EQ(a.job->step(), 0);
}

TEST_F(MultiJobTrainerTest, DropoutDrawsFromTheJobsOwnGenerator) {
  Built a = Build(specs_[0]), b = Build(specs_[0]), other = Build(specs_[2]);
  for (int s = 0; s < 3; ++s) {
    ASSERT_TRUE(a.job->Step().ok());
    // Another job's dropout and LibTorch's global generator move in between.
    ASSERT_TRUE(other.job->Step().ok());
    torch::manual_seed(1000 + s);
    (void)torch::rand({10});
    ASSERT_TRUE(b.job->Step().ok());
  }
  EXPECT_EQ(MaxParameterDifference(*a.model, *b.model), 0.0);
  // A different seed draws other masks.
  JobSpec reseeded = specs_[0];
  reseeded.options.seed = 99;
  Built c = Build(reseeded);
  for (int s = 0; s < 3; ++s) ASSERT_TRUE(c.job->Step().ok());
  EXPECT_GT(MaxParameterDifference(*a.model, *c.model), 0.0);
}

TEST_F(MultiJobTrainerTest, CancelBetweenStepsEndsTheJob) {
  Built a = Build(specs_[0]), b = Build(specs_[1]);
  MultiJobTrainer trainer(*backbone_);
  for (const absl::Status& status : trainer.StepBatched({a.job.get(), b.job.get()})) {
    ASSERT_TRUE(status.ok()) << status;
  }
  a.job->Cancel();
  EXPECT_EQ(a.job->phase(), TrainingJob::Phase::kDone);
  EXPECT_FALSE(a.job->BeginStep().ok());
  // The other job carries on alone.
  for (const absl::Status& status : trainer.StepBatched({b.job.get()})) {
    ASSERT_TRUE(status.ok()) << status;
  }
  EXPECT_EQ(b.job->step(), 2);
  const absl::StatusOr<TrainResult> result = a.job->Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->cancelled);
  EXPECT_TRUE(result->epochs.empty());
}

TEST_F(MultiJobTrainerTest, CheckpointBytesResumeExactly) {
  JobSpec spec = specs_[2];  // tagging with dropout
  spec.options.epochs = 2;
  Built straight = Build(spec);
  while (straight.job->phase() != TrainingJob::Phase::kDone) {
    if (straight.job->phase() == TrainingJob::Phase::kStep) {
      ASSERT_TRUE(straight.job->Step().ok());
    } else {
      ASSERT_TRUE(straight.job->EndEpoch().ok());
    }
  }
  Built first = Build(spec);
  while (first.job->phase() == TrainingJob::Phase::kStep) {
    ASSERT_TRUE(first.job->Step().ok());
  }
  ASSERT_TRUE(first.job->EndEpoch().ok());
  auto bytes = first.job->CheckpointBytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  Built resumed = Build(spec);
  ASSERT_TRUE(resumed.job->RestoreCheckpoint(*bytes).ok());
  EXPECT_EQ(resumed.job->step(), first.job->step());
  while (resumed.job->phase() != TrainingJob::Phase::kDone) {
    if (resumed.job->phase() == TrainingJob::Phase::kStep) {
      ASSERT_TRUE(resumed.job->Step().ok());
    } else {
      ASSERT_TRUE(resumed.job->EndEpoch().ok());
    }
  }
  EXPECT_EQ(MaxParameterDifference(*resumed.model, *straight.model), 0.0);
  const absl::StatusOr<TrainResult> a = straight.job->Finish();
  const absl::StatusOr<TrainResult> b = resumed.job->Finish();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->epochs.size(), b->epochs.size());
  EXPECT_EQ(a->best_epoch, b->best_epoch);
  EXPECT_EQ(straight.job->best_metrics(), resumed.job->best_metrics());
  EXPECT_FALSE(straight.job->RestoreCheckpoint("not a checkpoint").ok());
}

TEST_F(MultiJobTrainerTest, ValidationInSlicesEqualsValidationAtOnce) {
  JobSpec spec = specs_[2];  // tagging: 18 validation rows
  spec.options.epochs = 1;
  Built whole = Build(spec), sliced = Build(spec);
  for (Built* b : {&whole, &sliced}) {
    while (b->job->phase() == TrainingJob::Phase::kStep) {
      ASSERT_TRUE(b->job->Step().ok());
    }
  }
  EXPECT_FALSE(whole.job->BeginStep().ok());
  const absl::StatusOr<EpochReport> at_once = whole.job->EndEpoch();
  ASSERT_TRUE(at_once.ok()) << at_once.status();
  // 18 rows, 4 per call: four calls leave work, the fifth finishes.
  for (int call = 1; call <= 5; ++call) {
    const absl::StatusOr<bool> done = sliced.job->EvaluateSome(4);
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(*done, call == 5) << "call " << call;
  }
  EXPECT_EQ(sliced.job->phase(), TrainingJob::Phase::kEvaluate);
  const absl::StatusOr<EpochReport> in_slices = sliced.job->EndEpoch();
  ASSERT_TRUE(in_slices.ok()) << in_slices.status();
  EXPECT_DOUBLE_EQ(in_slices->valid_metric, at_once->valid_metric);
  EXPECT_EQ(sliced.job->best_metrics(), whole.job->best_metrics());
  EXPECT_EQ(sliced.job->phase(), TrainingJob::Phase::kDone);
  EXPECT_FALSE(sliced.job->EvaluateSome(4).ok());  // no epoch to validate
}

TEST_F(MultiJobTrainerTest, MeasureTrainingModesReportsBothWays) {
  std::vector<MeasuredJob> jobs;
  for (const JobSpec& spec : specs_) jobs.push_back({spec.data, spec.spec, spec.options});
  auto figures = MeasureTrainingModes(*backbone_, jobs, 2);
  ASSERT_TRUE(figures.ok()) << figures.status();
  EXPECT_GT(figures->batched_eps, 0);
  EXPECT_GT(figures->turns_eps, 0);
  EXPECT_EQ(figures->jobs, 4);
  EXPECT_EQ(MeasureTrainingModes(*backbone_, jobs, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The figures of tests/bench/README.md ("training: 4 tenants batched vs in
// turns"); a measurement, not a check, so it runs only when asked:
//   ptune_trainer_test --gtest_also_run_disabled_tests \
//       --gtest_filter='*FourSst2Tenants*'
// PTUNE_MEASURE_STEPS (default 10) sets the timed steps per way.
TEST_F(MultiJobTrainerTest, DISABLED_FourSst2TenantsBatchedVsTurns) {
  const std::string dir = ptune::testing::SharedDataDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data is absent";
  auto sst2 = datasets::ReadDataset(dir + "/cls/sst2/train.tsv", Task::kClassify);
  ASSERT_TRUE(sst2.ok()) << sst2.status();
  const char* env = std::getenv("PTUNE_MEASURE_STEPS");
  const int steps = env != nullptr ? std::atoi(env) : 10;
  std::vector<MeasuredJob> jobs;
  for (int t = 0; t < 4; ++t) {
    MeasuredJob job;
    job.train.task = Task::kClassify;
    job.train.labels = sst2->labels;
    // Each tenant its own slice of SST-2 (varied lengths), own prompt.
    for (size_t i = 0; i < 2000; ++i) {
      job.train.classification.push_back(sst2->classification[t * 2000 + i]);
    }
    job.spec.kind = t % 2 == 0 ? prompts::PromptKind::kDeep : prompts::PromptKind::kShallow;
    if (job.spec.kind == prompts::PromptKind::kShallow) {
      job.spec.init = prompts::PromptInit::kVocab;
    }
    job.spec.length = 8 + 4 * t;
    job.options.batch_size = 16;
    job.options.seed = 100 + t;
    jobs.push_back(std::move(job));
  }
  auto figures = MeasureTrainingModes(*backbone_, jobs, steps);
  ASSERT_TRUE(figures.ok()) << figures.status();
  std::printf("{\"train_batched_eps\": %.1f, \"train_turns_eps\": %.1f, "
              "\"jobs\": %d, \"steps\": %d, \"batch_size\": 16}\n",
              figures->batched_eps, figures->turns_eps, figures->jobs, figures->steps);
}

}  // namespace
}  // namespace ptune::training
