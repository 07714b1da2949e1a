// JobRunner with a real queue and SQLite store and a scripted executor.
#include "server/jobs/job_runner.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/store/store.h"

namespace ptune::jobs {
namespace {

using store::Job;
using store::JobState;
using store::PromptState;
using ::testing::HasSubstr;

// Runs request_json {"epochs": N, "fail": "message"} epoch by epoch,
// checkpointing "epoch=K" after each; resumes after the checkpointed epoch.
// While hold() is set, every job waits after its first checkpoint until
// released or cancelled.
class ScriptedExecutor : public JobExecutor {
 public:
  absl::StatusOr<JobOutcome> Run(const Job& job, JobContext& ctx) override {
    const nlohmann::json request =
        nlohmann::json::parse(job.request_json, nullptr, false);
    const int epochs = request.value("epochs", 3);
    const std::string fail = request.value("fail", "");
    int first = 1;
    if (!job.checkpoint.empty()) {
      int done = 0;
      absl::string_view text = job.checkpoint;
      EXPECT_TRUE(absl::ConsumePrefix(&text, "epoch=") &&
                  absl::SimpleAtoi(text, &done))
          << job.checkpoint;
      first = done + 1;
    }
    {
      absl::MutexLock lock(&mu_);
      started_epochs_[job.id].push_back(first);
      max_running_[job.tenant_id] =
          std::max(max_running_[job.tenant_id], ++running_[job.tenant_id]);
    }
    absl::StatusOr<JobOutcome> result = Epochs(job, ctx, first, epochs, fail);
    absl::MutexLock lock(&mu_);
    --running_[job.tenant_id];
    if (absl::IsCancelled(result.status())) ++cancelled_runs_;
    return result;
  }

  void set_hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  void set_epoch_time(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    epoch_time_ = d;
  }
  std::vector<int> started_epochs(const std::string& job_id) {
    absl::MutexLock lock(&mu_);
    return started_epochs_[job_id];
  }
  int runs() {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (auto& [id, starts] : started_epochs_) n += starts.size();
    return n;
  }
  int max_running(const std::string& tenant) {
    absl::MutexLock lock(&mu_);
    return max_running_[tenant];
  }
  int cancelled_runs() {
    absl::MutexLock lock(&mu_);
    return cancelled_runs_;
  }

 private:
  absl::StatusOr<JobOutcome> Epochs(const Job& job, JobContext& ctx, int first,
                                    int epochs, const std::string& fail) {
    for (int epoch = first; epoch <= epochs; ++epoch) {
      if (ctx.cancelled()) return absl::CancelledError("stopped");
      absl::Duration epoch_time;
      {
        absl::MutexLock lock(&mu_);
        epoch_time = epoch_time_;
      }
      absl::SleepFor(epoch_time);
      JobProgress progress;
      progress.epoch = epoch;
      progress.epochs = epochs;
      progress.step = epoch * 10;
      progress.total_steps = epochs * 10;
      progress.train_loss = 1.0 / epoch;
      absl::Status saved =
          ctx.SaveCheckpoint(progress, absl::StrCat("epoch=", epoch));
      if (!saved.ok()) return saved;
      while (true) {
        {
          absl::MutexLock lock(&mu_);
          if (!hold_) break;
        }
        if (ctx.cancelled()) return absl::CancelledError("stopped");
        absl::SleepFor(absl::Milliseconds(2));
      }
    }
    if (!fail.empty()) return absl::InternalError(fail);
    JobOutcome outcome;
    outcome.metrics_json = R"({"accuracy":1.0})";
    outcome.labels = {"neg", "pos"};
    outcome.artifact_safetensors = "weights:" + job.id;
    outcome.artifact_json = "{}";
    return outcome;
  }

  absl::Mutex mu_;
  bool hold_ = false;
  absl::Duration epoch_time_ = absl::ZeroDuration();
  std::map<std::string, std::vector<int>> started_epochs_;
  std::map<std::string, int> running_;
  std::map<std::string, int> max_running_;
  int cancelled_runs_ = 0;
};

// Polls `done` (the runner's threads make progress on their own) until it
// holds or 30 s pass.
bool Eventually(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return done();
}

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = absl::StrCat(::testing::TempDir(), "/ptune_runner_", getpid(), "_", counter++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = store::OpenStore(dir_ + "/jobs.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    JobQueue::Options queue_options;
    queue_options.owner = "replica-a";
    queue_ = *JobQueue::Create(store_.get(), queue_options);
    tenant_ = AddTenant("acme", 2);
    other_ = AddTenant("other", 2);
  }

  // The database file may still be open; unlinking it is fine on POSIX.
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<JobRunner> MakeRunner(int concurrency = 1, JobQueue* queue = nullptr) {
    JobRunner::Options options;
    options.concurrency = concurrency;
    options.poll_interval = absl::Milliseconds(20);
    options.heartbeat_interval = absl::Milliseconds(50);
    options.watch_poll_interval = absl::Milliseconds(50);
    auto runner = JobRunner::Create(queue != nullptr ? queue : queue_.get(), &executor_, options);
    EXPECT_TRUE(runner.ok()) << runner.status();
    return *std::move(runner);
  }

  std::string AddTenant(const std::string& name, int max_concurrent) {
    store::Tenant t;
    t.name = name;
    t.quotas.max_concurrent_jobs = max_concurrent;
    return store_->CreateTenant(t)->id;
  }

  // A training prompt version and the job that produces it.
  Job TrainingJob(JobRunner& runner, const std::string& tenant,
                  const std::string& request = R"({"epochs":3})") {
    store::PromptVersion p;
    p.tenant_id = tenant;
    p.name = "sentiment";
    p.task = "classify";
    p.spec_json = R"({"kind":"deep"})";
    auto version = store_->CreatePromptVersion(p);
    EXPECT_TRUE(version.ok()) << version.status();
    Job job;
    job.tenant_id = tenant;
    job.prompt_name = "sentiment";
    job.prompt_version = version->version;
    job.request_json = request;
    auto submitted = runner.Submit(job);
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    return *submitted;
  }

  JobState StateOf(const Job& job) {
    return store_->GetJob(job.tenant_id, job.id)->state;
  }

  PromptState PromptStateOf(const Job& job) {
    return store_->GetPrompt(job.tenant_id, job.prompt_name, job.prompt_version)
        ->state;
  }

  ScriptedExecutor executor_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<JobQueue> queue_;
  std::string tenant_, other_;
};

TEST_F(JobRunnerTest, RunsAJobAndPublishesItsPrompt) {
  auto runner = MakeRunner();
  const Job job = TrainingJob(*runner, tenant_);
  ASSERT_TRUE(runner->Start().ok());
  ASSERT_TRUE(Eventually([&] { return StateOf(job) == JobState::kSucceeded; }));

  auto done = runner->GetJob(tenant_, job.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->checkpoint, "epoch=3");
  auto progress = JobProgress::FromJson(done->progress_json);
  ASSERT_TRUE(progress.ok()) << progress.status();
  EXPECT_EQ(progress->epoch, 3);
  EXPECT_EQ(progress->total_steps, 30);
  EXPECT_TRUE(done->finished_at.has_value());

  auto prompt = store_->GetPrompt(tenant_, "sentiment");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  EXPECT_EQ(prompt->version, job.prompt_version);
  EXPECT_EQ(prompt->artifact_safetensors, "weights:" + job.id);
  EXPECT_EQ(prompt->spec_json, R"({"kind":"deep"})");
  EXPECT_EQ(prompt->metrics_json, R"({"accuracy":1.0})");
  EXPECT_EQ(executor_.started_epochs(job.id), std::vector<int>{1});
  EXPECT_EQ(runner->GetJob(other_, job.id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(JobRunnerTest, AnExecutorErrorFailsTheJobAndItsPrompt) {
  auto runner = MakeRunner();
  const Job job =
      TrainingJob(*runner, tenant_, R"({"epochs":1,"fail":"loss is NaN"})");
  ASSERT_TRUE(runner->Start().ok());
  ASSERT_TRUE(Eventually([&] { return StateOf(job) == JobState::kFailed; }));
  EXPECT_THAT(store_->GetJob(tenant_, job.id)->reason, HasSubstr("loss is NaN"));
  EXPECT_EQ(PromptStateOf(job), PromptState::kFailed);
}

TEST_F(JobRunnerTest, CancelARunningJob) {
  executor_.set_hold(true);
  auto runner = MakeRunner();
  const Job job = TrainingJob(*runner, tenant_);
  ASSERT_TRUE(runner->Start().ok());
  ASSERT_TRUE(Eventually([&] {
    return store_->GetJob(tenant_, job.id)->checkpoint == "epoch=1";
  }));
  EXPECT_EQ(runner->running_jobs(), 1);
  EXPECT_EQ(runner->Cancel(other_, job.id).status().code(),
            absl::StatusCode::kNotFound);
  auto requested = runner->Cancel(tenant_, job.id);
  ASSERT_TRUE(requested.ok()) << requested.status();
  EXPECT_TRUE(requested->cancel_requested);
  ASSERT_TRUE(
      Eventually([&] { return StateOf(job) == JobState::kCancelled; }));
  EXPECT_EQ(executor_.cancelled_runs(), 1);
  EXPECT_EQ(PromptStateOf(job), PromptState::kFailed);
  EXPECT_THAT(store_->GetJob(tenant_, job.id)->reason, HasSubstr("user"));
}

TEST_F(JobRunnerTest, ACancelledQueuedJobNeverRuns) {
  auto runner = MakeRunner();
  const Job cancelled = TrainingJob(*runner, tenant_);
  const Job next = TrainingJob(*runner, tenant_);
  auto after = runner->Cancel(tenant_, cancelled.id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, JobState::kCancelled);
  ASSERT_TRUE(runner->Start().ok());
  ASSERT_TRUE(Eventually([&] { return StateOf(next) == JobState::kSucceeded; }));
  EXPECT_EQ(executor_.runs(), 1);
  EXPECT_TRUE(executor_.started_epochs(cancelled.id).empty());
  EXPECT_EQ(StateOf(cancelled), JobState::kCancelled);
}

TEST_F(JobRunnerTest, StopLeavesARunningJobResumable) {
  executor_.set_hold(true);
  Job job;
  {
    auto runner = MakeRunner();
    job = TrainingJob(*runner, tenant_);
    ASSERT_TRUE(runner->Start().ok());
    ASSERT_TRUE(Eventually([&] {
      return store_->GetJob(tenant_, job.id)->checkpoint == "epoch=1";
    }));
    runner->Stop();
    auto stopped = store_->GetJob(tenant_, job.id);
    EXPECT_EQ(stopped->state, JobState::kQueued);
    EXPECT_EQ(stopped->checkpoint, "epoch=1");
    EXPECT_EQ(stopped->attempts, 0);  // a shutdown is not a failed attempt
    EXPECT_TRUE(stopped->reason.empty());
    EXPECT_EQ(PromptStateOf(job), PromptState::kTraining);
    EXPECT_FALSE(runner->Start().ok());  // cannot restart a stopped runner
  }
  executor_.set_hold(false);
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Start().ok());
  ASSERT_TRUE(Eventually([&] { return StateOf(job) == JobState::kSucceeded; }));
  EXPECT_EQ(executor_.started_epochs(job.id), (std::vector<int>{1, 2}));
  EXPECT_EQ(PromptStateOf(job), PromptState::kReady);
}

TEST_F(JobRunnerTest, WatchersSeeSnapshotProgressAndTheEnd) {
  auto runner = MakeRunner();
  const Job job = TrainingJob(*runner, tenant_);
  EXPECT_EQ(runner->Subscribe(other_, job.id, [](const JobEvent&) {})
                .status()
                .code(),
            absl::StatusCode::kNotFound);

  absl::Mutex mu;
  std::vector<JobEvent> events;
  auto subscription = runner->Subscribe(tenant_, job.id, [&](const JobEvent& e) {
    absl::MutexLock lock(&mu);
    events.push_back(e);
  });
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  ASSERT_TRUE(runner->Start().ok());
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return !events.empty() && events.back().job.state == JobState::kSucceeded;
  }));
  subscription->reset();
  EXPECT_EQ(StateOf(job), JobState::kSucceeded);

  absl::MutexLock lock(&mu);
  // Snapshot, running, progress (epochs ascending; a burst of epochs may
  // reach the store as its newest one only), the end.
  ASSERT_GE(events.size(), 1u + 1u + 1u + 1u);
  ASSERT_LE(events.size(), 1u + 1u + 3u + 1u);
  EXPECT_EQ(events[0].kind, JobEvent::Kind::kSnapshot);
  EXPECT_EQ(events[0].job.state, JobState::kQueued);
  EXPECT_EQ(events[1].kind, JobEvent::Kind::kStateChanged);
  EXPECT_EQ(events[1].job.state, JobState::kRunning);
  int last_epoch = 0;
  for (size_t i = 2; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i].kind, JobEvent::Kind::kProgress);
    const int epoch = JobProgress::FromJson(events[i].job.progress_json)->epoch;
    EXPECT_GT(epoch, last_epoch);
    last_epoch = epoch;
    EXPECT_TRUE(events[i].job.checkpoint.empty());
  }
  EXPECT_EQ(last_epoch, 3);
  EXPECT_EQ(events.back().kind, JobEvent::Kind::kStateChanged);
}

// Replica B serves CancelJob and WatchJob for a job replica A runs: the
// cancel reaches A through its heartbeat, and B's watcher sees A's progress
// and the end through B's polling.
TEST_F(JobRunnerTest, CancelAndWatchFromAnotherReplica) {
  executor_.set_hold(true);
  auto runner_a = MakeRunner();
  const Job job = TrainingJob(*runner_a, tenant_);
  ASSERT_TRUE(runner_a->Start().ok());
  ASSERT_TRUE(Eventually([&] { return store_->GetJob(tenant_, job.id)->checkpoint == "epoch=1"; }));
  EXPECT_EQ(store_->GetJob(tenant_, job.id)->lease_owner, "replica-a");

  JobQueue::Options b_options;
  b_options.owner = "replica-b";
  auto queue_b = *JobQueue::Create(store_.get(), b_options);
  auto runner_b = MakeRunner(1, queue_b.get());
  ASSERT_TRUE(runner_b->Start().ok());
  absl::Mutex mu;
  std::vector<JobEvent> events;
  auto subscription = runner_b->Subscribe(tenant_, job.id, [&](const JobEvent& e) {
    absl::MutexLock lock(&mu);
    events.push_back(e);
  });
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  auto requested = runner_b->Cancel(tenant_, job.id);
  ASSERT_TRUE(requested.ok()) << requested.status();
  EXPECT_EQ(runner_b->running_jobs(), 0);
  ASSERT_TRUE(Eventually([&] { return StateOf(job) == JobState::kCancelled; }));
  EXPECT_EQ(executor_.cancelled_runs(), 1);
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return !events.empty() && events.back().job.state == JobState::kCancelled;
  }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(events.front().kind, JobEvent::Kind::kSnapshot);
  EXPECT_EQ(events.front().job.state, JobState::kRunning);
}

TEST_F(JobRunnerTest, UnsubscribedCallbacksAreNotCalled) {
  executor_.set_hold(true);
  auto runner = MakeRunner();
  const Job job = TrainingJob(*runner, tenant_);
  int calls = 0;
  {
    auto subscription =
        runner->Subscribe(tenant_, job.id, [&](const JobEvent&) { ++calls; });
    ASSERT_TRUE(subscription.ok());
  }
  EXPECT_EQ(calls, 1);  // the snapshot only
  ASSERT_TRUE(runner->Start().ok());
  executor_.set_hold(false);
  ASSERT_TRUE(Eventually([&] { return StateOf(job) == JobState::kSucceeded; }));
  EXPECT_EQ(calls, 1);
}

TEST_F(JobRunnerTest, TenantLimitsHoldWithSeveralWorkers) {
  executor_.set_epoch_time(absl::Milliseconds(5));
  const std::string solo = AddTenant("solo", /*max_concurrent=*/1);
  auto runner = MakeRunner(/*concurrency=*/4);
  std::vector<Job> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(TrainingJob(*runner, solo));
  for (int i = 0; i < 4; ++i) jobs.push_back(TrainingJob(*runner, tenant_));
  ASSERT_TRUE(runner->Start().ok());
  ASSERT_TRUE(Eventually([&] {
    return std::all_of(jobs.begin(), jobs.end(), [&](const Job& j) {
      return StateOf(j) == JobState::kSucceeded;
    });
  }));
  EXPECT_EQ(executor_.max_running(solo), 1);
  EXPECT_LE(executor_.max_running(tenant_), 2);
  EXPECT_EQ(executor_.runs(), 8);
  // Versions 1..4 of each tenant's prompt all became ready.
  auto listed = store_->ListPrompts(solo);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].latest_ready_version, 4);
}

TEST_F(JobRunnerTest, RejectsBadOptions) {
  JobRunner::Options options;
  options.concurrency = 0;
  EXPECT_EQ(JobRunner::Create(queue_.get(), &executor_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobRunner::Create(queue_.get(), nullptr, JobRunner::Options())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptune::jobs
