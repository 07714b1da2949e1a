// TrainingDriver with the test thread as the executor: Run on other
// threads, Step here until they return.
#include "server/engine/training_driver.h"

#include <atomic>
#include <thread>

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "tests/testing/model_compare.h"
#include "tests/testing/shared_backbone.h"

namespace ptune::engine {
namespace {

using ::ptune::testing::MaxParameterDifference;

datasets::Dataset Reviews(int frames_used = 3) {
  datasets::Dataset d;
  d.task = datasets::Task::kClassify;
  const char* pos[] = {"good", "great", "wonderful", "lovely", "excellent"};
  const char* neg[] = {"bad", "awful", "terrible", "boring", "dreadful"};
  const char* frames[] = {"the film was %s", "a %s story", "really %s acting"};
  for (int f = 0; f < frames_used; ++f) {
    for (int i = 0; i < 5; ++i) {
      char buffer[128];
      snprintf(buffer, sizeof(buffer), frames[f], pos[i]);
      d.classification.push_back({buffer, "pos"});
      snprintf(buffer, sizeof(buffer), frames[f], neg[i]);
      d.classification.push_back({buffer, "neg"});
    }
  }
  d.labels = {"neg", "pos"};
  return d;
}

// Runs each request on its own thread while this thread drives Step().
class Runner {
 public:
  // Room for every job up front: Run threads write their slots while later
  // jobs start.
  explicit Runner(TrainingDriver& driver) : driver_(driver) {
    outcomes_.reserve(kMaxJobs);
    reports_.reserve(kMaxJobs);
    checkpoints_.reserve(kMaxJobs);
  }
  static constexpr size_t kMaxJobs = 8;

  void Start(TrainingRequest request, std::function<bool()> cancelled = nullptr) {
    const size_t i = outcomes_.size();
    ASSERT_LT(i, kMaxJobs);
    outcomes_.emplace_back(absl::UnknownError("not run"));
    reports_.emplace_back();
    checkpoints_.emplace_back();
    threads_.emplace_back([this, i, request = std::move(request), cancelled]() mutable {
      auto outcome = driver_.Run(
          std::move(request),
          [this, i](const training::EpochReport& r) { reports_[i].push_back(r); },
          [this, i](std::string bytes) { checkpoints_[i].push_back(std::move(bytes)); },
          cancelled);
      outcomes_[i] = std::move(outcome);
      ++finished_;
    });
  }

  // Steps until every started Run returned.
  void Drive() {
    // Wait until every job is queued or finished, then step them.
    while (finished_ < static_cast<int>(threads_.size())) {
      if (driver_.HasWork()) {
        driver_.Step();
      } else {
        std::this_thread::yield();
      }
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  std::vector<absl::StatusOr<TrainingOutcome>> outcomes_;
  std::vector<std::vector<training::EpochReport>> reports_;
  std::vector<std::vector<std::string>> checkpoints_;

 private:
  TrainingDriver& driver_;
  std::vector<std::thread> threads_;
  std::atomic<int> finished_{0};
};

class TrainingDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const backbone::Backbone* shared = ptune::testing::SharedBackbone();
    if (shared == nullptr) GTEST_SKIP() << "default backbone not installed";
    backbone_ = std::shared_ptr<const backbone::Backbone>(shared, [](auto*) {});
  }

  static TrainingRequest Request(uint64_t seed, int length) {
    TrainingRequest r;
    r.task = datasets::Task::kClassify;
    r.spec.length = length;
    r.train = Reviews();
    r.valid = Reviews(1);
    r.options.epochs = 2;
    r.options.batch_size = 8;
    r.options.learning_rate = 1e-3;
    r.options.warmup_fraction = 0;
    r.options.patience = 10;
    r.options.seed = seed;
    return r;
  }

  std::shared_ptr<const backbone::Backbone> backbone_;
};

TEST_F(TrainingDriverTest, RunTrainsReportsEachEpochAndReturnsTheBestModel) {
  TrainingDriver driver(backbone_);
  Runner runner(driver);
  runner.Start(Request(1, 3));
  runner.Drive();
  ASSERT_TRUE(runner.outcomes_[0].ok()) << runner.outcomes_[0].status();
  const TrainingOutcome& outcome = *runner.outcomes_[0];
  ASSERT_NE(outcome.model, nullptr);
  EXPECT_EQ(outcome.result.epochs.size(), 2u);
  EXPECT_EQ(runner.reports_[0].size(), 2u);
  EXPECT_EQ(runner.checkpoints_[0].size(), 2u);
  EXPECT_FALSE(runner.checkpoints_[0][0].empty());
  EXPECT_TRUE(outcome.metrics.contains("accuracy")) << outcome.metrics.dump();
  EXPECT_TRUE(outcome.metrics.contains("macro_f1"));
  EXPECT_DOUBLE_EQ(outcome.metrics["valid_metric"].get<double>(),
                   outcome.result.best_valid_metric);
  EXPECT_FALSE(driver.HasWork());
}

TEST_F(TrainingDriverTest, CancelledBetweenStepsEndsWithCancelled) {
  TrainingDriver driver(backbone_);
  Runner runner(driver);
  auto polls = std::make_shared<std::atomic<int>>(0);
  runner.Start(Request(1, 3), [polls] { return ++*polls > 2; });
  runner.Drive();
  EXPECT_EQ(runner.outcomes_[0].status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(runner.reports_[0].empty());
}

TEST_F(TrainingDriverTest, ResumeFromCheckpointBytesEqualsUninterrupted) {
  TrainingDriver driver(backbone_);
  Runner straight(driver);
  TrainingRequest request = Request(4, 2);
  request.spec.dropout = 0.2;
  straight.Start(request);
  straight.Drive();
  ASSERT_TRUE(straight.outcomes_[0].ok());
  ASSERT_EQ(straight.checkpoints_[0].size(), 2u);

  Runner resumed(driver);
  request.resume_checkpoint = straight.checkpoints_[0][0];  // after epoch 1
  resumed.Start(request);
  resumed.Drive();
  ASSERT_TRUE(resumed.outcomes_[0].ok()) << resumed.outcomes_[0].status();
  EXPECT_EQ(resumed.reports_[0].size(), 1u);  // only epoch 2 ran
  EXPECT_EQ(MaxParameterDifference(*resumed.outcomes_[0]->model, *straight.outcomes_[0]->model), 0.0);

  Runner broken(driver);
  request.resume_checkpoint = "garbage";
  broken.Start(request);
  broken.Drive();
  EXPECT_EQ(broken.outcomes_[0].status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TrainingDriverTest, BatchedJobsEqualJobsTrainedAlone) {
  std::vector<TrainingRequest> requests = {Request(1, 2), Request(2, 3), Request(3, 4)};
  requests[1].spec.kind = prompts::PromptKind::kShallow;
  requests[2].options.batch_size = 5;
  std::vector<std::unique_ptr<prompts::PromptModel>> alone;
  {
    TrainingDriver driver(backbone_);
    for (const TrainingRequest& r : requests) {
      Runner runner(driver);
      runner.Start(r);
      runner.Drive();
      ASSERT_TRUE(runner.outcomes_[0].ok()) << runner.outcomes_[0].status();
      alone.push_back(std::move(runner.outcomes_[0]->model));
    }
  }
  TrainingDriver driver(backbone_, {.mode = TrainingMode::kAuto, .probe_steps = 1});
  Runner runner(driver);
  for (const TrainingRequest& r : requests) runner.Start(r);
  runner.Drive();
  for (size_t j = 0; j < requests.size(); ++j) {
    ASSERT_TRUE(runner.outcomes_[j].ok()) << runner.outcomes_[j].status();
    EXPECT_LE(MaxParameterDifference(*runner.outcomes_[j]->model, *alone[j]), 1e-4) << j;
  }
  // Both ways were measured.
  EXPECT_GT(driver.stats().batched_eps, 0);
  EXPECT_GT(driver.stats().turns_eps, 0);
}

// Each Step runs at most max_rows_per_slice rows (the executor's turn stays
// short), and the job ends where whole-batch steps take it; likewise with a
// token budget.
TEST_F(TrainingDriverTest, SlicesBoundEachStepAndEqualWholeBatches) {
  TrainingRequest request = Request(5, 3);
  request.spec.dropout = 0.2;  // one mask per step, however it is sliced
  request.options.max_grad_norm = 0.05;
  std::unique_ptr<prompts::PromptModel> models[3];
  int64_t most_rows[3] = {0, 0, 0}, steps[3] = {0, 0, 0};
  for (int way = 0; way < 3; ++way) {
    TrainingDriverOptions options;
    options.max_rows_per_slice = way == 1 ? 3 : 0;
    // Way 2: every text has at least 5 tokens ([CLS] + 3 words + [SEP]),
    // so a budget of 9 takes one row per slice.
    options.max_tokens_per_slice = way == 2 ? 9 : 0;
    TrainingDriver driver(backbone_, options);
    absl::StatusOr<TrainingOutcome> outcome = absl::UnknownError("not run");
    std::atomic<bool> finished{false};
    std::thread run([&] {
      outcome = driver.Run(request, nullptr, nullptr, nullptr);
      finished = true;
    });
    while (!finished) {
      if (!driver.HasWork()) {
        std::this_thread::yield();
        continue;
      }
      const int64_t before = driver.stats().examples;
      driver.Step();
      most_rows[way] = std::max(most_rows[way], driver.stats().examples - before);
    }
    run.join();
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(driver.stats().examples, 2 * 30);  // 2 epochs of 30 examples
    steps[way] = driver.stats().steps;
    models[way] = std::move(outcome->model);
  }
  EXPECT_EQ(most_rows[0], 8);  // whole batches
  EXPECT_EQ(most_rows[1], 3);
  EXPECT_EQ(most_rows[2], 1);
  EXPECT_GT(steps[1], steps[0]);
  EXPECT_GT(steps[2], steps[0]);
  // Up to float rounding, which Adam amplifies for near-zero gradients
  // (multi_job_trainer_test.cc, SlicedStepsEqualWholeSteps).
  EXPECT_LE(MaxParameterDifference(*models[0], *models[1]), 1e-4);
  EXPECT_LE(MaxParameterDifference(*models[0], *models[2]), 1e-4);
}

TEST_F(TrainingDriverTest, AbortEndsWaitingRunsAndRefusesNewOnes) {
  TrainingDriver driver(backbone_);
  absl::StatusOr<TrainingOutcome> outcome = absl::UnknownError("");
  std::thread run([&] { outcome = driver.Run(Request(1, 2), nullptr, nullptr, nullptr); });
  while (!driver.HasWork()) std::this_thread::yield();
  driver.Abort(absl::UnavailableError("shutting down"));
  run.join();
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(driver.Run(Request(1, 2), nullptr, nullptr, nullptr).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ptune::engine

namespace ptune::engine {
namespace {

TEST(TrainingDriverOptionsTest, SlicesFollowTheDevice) {
  const TrainingDriverOptions cpu = TrainingDriverOptions::ForDevice(c10::Device(c10::kCPU));
  EXPECT_EQ(cpu.max_rows_per_slice, 8);
  EXPECT_EQ(cpu.max_tokens_per_slice, 32);
  EXPECT_EQ(cpu.max_eval_rows_per_slice, 16);
  const TrainingDriverOptions gpu =
      TrainingDriverOptions::ForDevice(c10::Device(c10::kCUDA, 0));
  EXPECT_EQ(gpu.max_rows_per_slice, 64);
  EXPECT_EQ(gpu.max_tokens_per_slice, 4096);
  EXPECT_EQ(gpu.max_eval_rows_per_slice, 256);
}

}  // namespace
}  // namespace ptune::engine

namespace ptune::engine {
namespace {

TEST(CheckTrainableDtypeTest, Float16IsRefusedWithWhatToDo) {
  EXPECT_TRUE(CheckTrainableDtype(at::kFloat).ok());
  EXPECT_TRUE(CheckTrainableDtype(at::kBFloat16).ok());
  const absl::Status half = CheckTrainableDtype(at::kHalf);
  EXPECT_EQ(half.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(half.message().find("--dtype bfloat16 or float32"), std::string::npos) << half;
}

}  // namespace
}  // namespace ptune::engine
