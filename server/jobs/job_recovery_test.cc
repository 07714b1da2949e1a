// Crash recovery across replicas: a child process (one replica) runs a job
// and is killed with SIGKILL after its second checkpoint; the parent (another
// replica on the same database, SQLite file or PostgreSQL) reclaims the job
// once its lease expires and resumes it from that checkpoint.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/jobs/job_queue.h"
#include "server/jobs/job_runner.h"
#include "server/store/store.h"
#include "server/store/test_store.h"

namespace ptune::jobs {
namespace {

constexpr int kEpochs = 5;

// Checkpoints "epoch=K" after each epoch, resuming after the checkpointed
// one; sleeps `pause` after the checkpoints of epoch 2 and later (so the
// parent can kill it between the 2nd and the 3rd). Records the epoch each run started at.
class EpochExecutor : public JobExecutor {
 public:
  explicit EpochExecutor(absl::Duration pause) : pause_(pause) {}

  absl::StatusOr<JobOutcome> Run(const store::Job& job,
                                 JobContext& ctx) override {
    int first = 1;
    if (!job.checkpoint.empty()) {
      absl::string_view text = job.checkpoint;
      int done = 0;
      if (!absl::ConsumePrefix(&text, "epoch=") ||
          !absl::SimpleAtoi(text, &done)) {
        return absl::DataLossError("bad checkpoint " + job.checkpoint);
      }
      first = done + 1;
    }
    {
      absl::MutexLock lock(&mu_);
      starts_.push_back(first);
    }
    for (int epoch = first; epoch <= kEpochs; ++epoch) {
      if (ctx.cancelled()) return absl::CancelledError("stopped");
      JobProgress progress;
      progress.epoch = epoch;
      progress.epochs = kEpochs;
      absl::Status saved =
          ctx.SaveCheckpoint(progress, absl::StrCat("epoch=", epoch));
      if (!saved.ok()) return saved;
      if (epoch >= 2) absl::SleepFor(pause_);
    }
    JobOutcome outcome;
    outcome.artifact_safetensors = "trained";
    outcome.metrics_json = "{}";
    return outcome;
  }

  std::vector<int> starts() {
    absl::MutexLock lock(&mu_);
    return starts_;
  }

 private:
  const absl::Duration pause_;
  absl::Mutex mu_;
  std::vector<int> starts_;
};

constexpr absl::Duration kLease = absl::Seconds(3);

// The child: opens the store, runs the queue; never returns.
[[noreturn]] void RunChild(const std::string& path) {
  auto store = store::OpenStore(path);
  if (!store.ok()) _exit(2);
  auto queue = JobQueue::Create(store->get(), {.owner = "child", .lease = kLease});
  if (!queue.ok()) _exit(3);
  // A long pause: the parent kills the child long before epoch 3 is saved.
  EpochExecutor executor(absl::Seconds(30));
  auto runner = JobRunner::Create(queue->get(), &executor, JobRunner::Options());
  if (!runner.ok() || !(*runner)->Start().ok()) _exit(4);
  absl::SleepFor(absl::Seconds(120));
  _exit(5);  // the parent should have killed us long ago
}

class JobRecoveryTest : public ::testing::TestWithParam<std::string> {};

TEST_P(JobRecoveryTest, KilledReplicasJobResumesElsewhereFromItsLastCheckpoint) {
  absl::StatusOr<std::string> url = store::TestStoreUrl(GetParam());
  if (absl::IsUnavailable(url.status())) GTEST_SKIP() << url.status().message();
  ASSERT_TRUE(url.ok()) << url.status();
  const std::string path = *url;

  // Set up, then close every connection before forking (SQLite connections
  // must not cross a fork).
  store::Job job;
  {
    auto store = store::OpenStore(path);
    ASSERT_TRUE(store.ok()) << store.status();
    store::Tenant tenant;
    tenant.name = "acme";
    tenant = *(*store)->CreateTenant(tenant);
    store::TrainingSubmission submission;
    submission.version.tenant_id = tenant.id;
    submission.version.name = "ner";
    submission.version.task = "tag";
    submission.job.tenant_id = tenant.id;
    auto created = (*store)->SubmitTraining(submission);
    ASSERT_TRUE(created.ok()) << created.status();
    job = *created;
  }

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) RunChild(path);

  auto store = store::OpenStore(path);
  ASSERT_TRUE(store.ok()) << store.status();
  bool second_checkpoint = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!second_checkpoint && absl::Now() < deadline) {
    auto seen = (*store)->GetJob(job.tenant_id, job.id);
    ASSERT_TRUE(seen.ok()) << seen.status();
    second_checkpoint = seen->checkpoint == "epoch=2";
    if (!second_checkpoint) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(second_checkpoint) << "the child never saved epoch 2";
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with "
                                    << WEXITSTATUS(wstatus);

  auto crashed = (*store)->GetJob(job.tenant_id, job.id);
  EXPECT_EQ(crashed->state, store::JobState::kRunning);  // as left by the crash
  EXPECT_EQ(crashed->lease_owner, "child");
  EXPECT_EQ(crashed->checkpoint, "epoch=2");

  // The surviving replica: nothing to reclaim while the dead one's lease
  // holds; after it expires the job moves here.
  auto queue = JobQueue::Create(store->get(), {.owner = "survivor", .lease = kLease});
  ASSERT_TRUE(queue.ok());
  EpochExecutor executor(absl::ZeroDuration());
  JobRunner::Options options;
  options.poll_interval = absl::Milliseconds(10);
  options.reclaim_interval = absl::Milliseconds(100);
  auto runner = JobRunner::Create(queue->get(), &executor, options);
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->Start().ok());
  store::JobState state = store::JobState::kQueued;
  const absl::Time done_by = absl::Now() + absl::Seconds(30);
  while (!store::IsTerminal(state) && absl::Now() < done_by) {
    state = (*store)->GetJob(job.tenant_id, job.id)->state;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(state, store::JobState::kSucceeded);
  EXPECT_EQ(executor.starts(), std::vector<int>{3});  // not 1
  EXPECT_EQ((*store)->GetJob(job.tenant_id, job.id)->attempts, 1);
  auto prompt = (*store)->GetPrompt(job.tenant_id, "ner");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  EXPECT_EQ(prompt->artifact_safetensors, "trained");
  EXPECT_EQ((*store)->GetJob(job.tenant_id, job.id)->checkpoint,
            absl::StrCat("epoch=", kEpochs));
}

INSTANTIATE_TEST_SUITE_P(Engines, JobRecoveryTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ptune::jobs
