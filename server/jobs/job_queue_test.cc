// JobQueue on a real SQLite store: fairness, limits, cancel, recovery.
#include "server/jobs/job_queue.h"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/store.h"

namespace ptune::jobs {
namespace {

using store::Job;
using store::JobState;
using store::Tenant;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = absl::StrCat(::testing::TempDir(), "/ptune_queue_", getpid(), "_", counter++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = store::OpenStore(dir_ + "/jobs.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    MakeQueue(absl::Seconds(30));
  }

  // The database file may still be open; unlinking it is fine on POSIX.
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void MakeQueue(absl::Duration lease) {
    JobQueue::Options options;
    options.owner = "replica-under-test";
    options.lease = lease;
    auto queue = JobQueue::Create(store_.get(), options);
    ASSERT_TRUE(queue.ok()) << queue.status();
    queue_ = *std::move(queue);
  }

  std::string AddTenant(const std::string& name, int max_concurrent = 100) {
    Tenant t;
    t.name = name;
    t.quotas.max_concurrent_jobs = max_concurrent;
    auto created = store_->CreateTenant(t);
    EXPECT_TRUE(created.ok()) << created.status();
    return created->id;
  }

  std::string Submit(const std::string& tenant_id, const std::string& label) {
    Job job;
    job.tenant_id = tenant_id;
    job.prompt_name = label;  // lets the test tell jobs apart
    auto submitted = queue_->Submit(job);
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    return submitted->id;
  }

  // The label of the job claimed next, "" when none may start.
  std::string ClaimLabel() {
    auto claimed = queue_->Claim();
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    if (!claimed.ok() || !claimed->has_value()) return "";
    EXPECT_EQ((*claimed)->state, JobState::kRunning);
    last_claimed_ = **claimed;
    return (*claimed)->prompt_name;
  }

  void Finish(const Job& job) {
    ASSERT_TRUE(store_
                    ->FinishJob(job.tenant_id, job.id, store::JobLease::Of(job),
                                JobState::kSucceeded, "", absl::Now())
                    .ok());
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<JobQueue> queue_;
  Job last_claimed_;
};

TEST_F(JobQueueTest, FifoWithinTenantRoundRobinAcrossTenants) {
  const std::string a = AddTenant("a");
  const std::string b = AddTenant("b");
  const std::string c = AddTenant("c");
  for (int i = 1; i <= 4; ++i) Submit(a, absl::StrCat("a", i));
  Submit(b, "b1");
  Submit(c, "c1");
  Submit(c, "c2");

  std::vector<std::string> order;
  for (int i = 0; i < 7; ++i) order.push_back(ClaimLabel());
  EXPECT_EQ(ClaimLabel(), "");
  // Every tenant's first job within the first round, whatever the tenant ids'
  // order; then the remaining tenants alternate; each tenant in FIFO order.
  EXPECT_THAT(std::vector<std::string>(order.begin(), order.begin() + 3),
              UnorderedElementsAre("a1", "b1", "c1"));
  EXPECT_THAT(std::vector<std::string>(order.begin() + 3, order.begin() + 5),
              UnorderedElementsAre("a2", "c2"));
  EXPECT_THAT(std::vector<std::string>(order.begin() + 5, order.end()),
              ElementsAre("a3", "a4"));
}

TEST_F(JobQueueTest, ABusyTenantDelaysANewcomerByAtMostOneTurn) {
  const std::string busy = AddTenant("busy");
  for (int i = 0; i < 100; ++i) Submit(busy, "busy");
  EXPECT_EQ(ClaimLabel(), "busy");
  const std::string late = AddTenant("late");
  Submit(late, "late");
  // Whatever the ids' order, "late" runs within the next claim or, if the
  // cursor had just passed it, right after one more of busy's jobs.
  const std::string next = ClaimLabel();
  const std::string after = ClaimLabel();
  EXPECT_TRUE(next == "late" || after == "late") << next << ", " << after;
}

TEST_F(JobQueueTest, PerTenantConcurrencyLimit) {
  const std::string a = AddTenant("a", /*max_concurrent=*/1);
  const std::string b = AddTenant("b", /*max_concurrent=*/1);
  Submit(a, "a1");
  Submit(a, "a2");
  Submit(b, "b1");
  std::vector<std::string> first = {ClaimLabel(), ClaimLabel()};
  EXPECT_THAT(first, UnorderedElementsAre("a1", "b1"));
  EXPECT_EQ(ClaimLabel(), "");  // a2 waits: a is at its limit

  auto running = store_->ListJobs(a, JobState::kRunning, 10, "");
  ASSERT_EQ(running->jobs.size(), 1u);
  Finish(running->jobs[0]);
  EXPECT_EQ(ClaimLabel(), "a2");
}

TEST_F(JobQueueTest, DisabledTenantsDoNotRun) {
  const std::string a = AddTenant("a");
  Submit(a, "a1");
  Tenant t = *store_->GetTenant(a);
  t.disabled = true;
  ASSERT_TRUE(store_->UpdateTenant(t).ok());
  EXPECT_EQ(ClaimLabel(), "");
}

TEST_F(JobQueueTest, CancelQueuedAndRunning) {
  const std::string a = AddTenant("a");
  const std::string b = AddTenant("b");
  const std::string queued = Submit(a, "queued");
  auto cancelled = queue_->Cancel(a, queued);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state, JobState::kCancelled);
  EXPECT_EQ(ClaimLabel(), "");  // never runs

  const std::string running = Submit(a, "running");
  EXPECT_EQ(ClaimLabel(), "running");
  EXPECT_EQ(queue_->Cancel(b, running).status().code(),
            absl::StatusCode::kNotFound);
  auto requested = queue_->Cancel(a, running);
  ASSERT_TRUE(requested.ok());
  EXPECT_EQ(requested->state, JobState::kRunning);
  EXPECT_TRUE(requested->cancel_requested);
  EXPECT_EQ(queue_->Cancel(a, queued).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(JobQueueTest, ClaimsCarryALeaseThatHeartbeatsRenew) {
  const std::string a = AddTenant("a");
  Submit(a, "job");
  EXPECT_EQ(ClaimLabel(), "job");
  EXPECT_EQ(last_claimed_.lease_owner, "replica-under-test");
  EXPECT_EQ(last_claimed_.lease_epoch, 1);
  auto renewed = queue_->Renew(last_claimed_);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_FALSE(*renewed);
  ASSERT_TRUE(queue_->Cancel(a, last_claimed_.id).ok());
  EXPECT_TRUE(*queue_->Renew(last_claimed_));  // the cancel arrives with the heartbeat
}

TEST_F(JobQueueTest, ReclaimRequeuesExpiredJobsFirstInLine) {
  MakeQueue(absl::Seconds(1));
  const std::string a = AddTenant("a", /*max_concurrent=*/1);
  const std::string first = Submit(a, "first");
  Submit(a, "second");
  EXPECT_EQ(ClaimLabel(), "first");
  ASSERT_TRUE(
      store_->SaveJobProgress(a, first, store::JobLease::Of(last_claimed_), "{}", "ckpt").ok());
  EXPECT_EQ(*queue_->Reclaim(), 0);  // the lease still holds
  absl::SleepFor(absl::Milliseconds(1100));
  auto moved = queue_->Reclaim();
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 1);
  EXPECT_EQ(ClaimLabel(), "first");
  EXPECT_EQ(last_claimed_.attempts, 1);
  EXPECT_EQ(last_claimed_.lease_epoch, 2);
  EXPECT_EQ(last_claimed_.checkpoint, "ckpt");
}

TEST_F(JobQueueTest, RejectsBadOptions) {
  JobQueue::Options options;
  options.lease = absl::Milliseconds(10);
  EXPECT_EQ(JobQueue::Create(store_.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.lease = absl::Seconds(30);
  options.max_attempts = 0;
  EXPECT_EQ(JobQueue::Create(store_.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobQueue::Create(nullptr, JobQueue::Options()).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string owner = JobQueue::DefaultOwner();
  EXPECT_NE(owner, JobQueue::DefaultOwner());  // a random part per call
  EXPECT_NE(owner.find(absl::StrCat("/", getpid(), "/")), std::string::npos);
}

}  // namespace
}  // namespace ptune::jobs
