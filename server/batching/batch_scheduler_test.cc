#include "server/batching/batch_scheduler.h"

#include <atomic>
#include <climits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/batching/clock.h"
#include "server/batching/task.h"

namespace ptune::batching {
namespace {

using ::testing::IsEmpty;

// A task that remembers an id, so tests can see which rows a batch holds.
class TestTask : public Task {
 public:
  TestTask(int id, std::string tenant, int tokens, absl::Time deadline)
      : Task(std::move(tenant), tokens, deadline), id_(id) {}
  int id() const { return id_; }

 private:
  int id_;
};

using Scheduler = BatchScheduler<TestTask>;

// Drives a scheduler by hand with a fake clock ("puppet" style): the test
// schedules rows and forms batches itself; nothing sleeps.
class BatchSchedulerTest : public ::testing::Test {
 protected:
  Scheduler::Options DefaultOptions() {
    Scheduler::Options options;
    options.max_queue_size = 4096;
    options.max_batch_size = 8;
    options.max_batch_tokens = 8 * 256;
    options.batch_timeout = absl::ZeroDuration();
    options.clock = &clock_;
    return options;
  }

  std::unique_ptr<Scheduler> MakeScheduler(const Scheduler::Options& options) {
    auto scheduler = Scheduler::Create(options);
    EXPECT_TRUE(scheduler.ok()) << scheduler.status();
    return *std::move(scheduler);
  }

  // Makes a task whose Fail hook records its status in failures_[id].
  std::unique_ptr<TestTask> MakeTask(
      const std::string& tenant, int tokens,
      absl::Time deadline = absl::InfiniteFuture()) {
    const int id = next_id_++;
    auto task = std::make_unique<TestTask>(id, tenant, tokens, deadline);
    task->set_on_failed(
        [this, id](absl::Status status) { failures_[id] = status; });
    return task;
  }

  int ScheduleOrDie(Scheduler& scheduler, const std::string& tenant, int tokens,
                    absl::Time deadline = absl::InfiniteFuture()) {
    std::unique_ptr<TestTask> task = MakeTask(tenant, tokens, deadline);
    const int id = task->id();
    EXPECT_TRUE(scheduler.Schedule(&task).ok());
    return id;
  }

  // Forms batches until the queue is empty.
  std::vector<Batch<TestTask>> Drain(Scheduler& scheduler) {
    std::vector<Batch<TestTask>> batches;
    while (true) {
      Batch<TestTask> batch = scheduler.TryFormBatch();
      if (batch.empty()) break;
      batches.push_back(std::move(batch));
    }
    return batches;
  }

  FakeClock clock_;
  int next_id_ = 0;
  std::map<int, absl::Status> failures_;
};

TEST_F(BatchSchedulerTest, CreateRejectsBadOptions) {
  Scheduler::Options options = DefaultOptions();
  options.max_batch_size = 0;
  EXPECT_EQ(Scheduler::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = DefaultOptions();
  options.batch_timeout = absl::Milliseconds(-1);
  EXPECT_EQ(Scheduler::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BatchSchedulerTest, QueueFullReturnsUnavailableAndTaskStaysWithCaller) {
  Scheduler::Options options = DefaultOptions();
  options.max_queue_size = 2;
  auto scheduler = MakeScheduler(options);
  ScheduleOrDie(*scheduler, "a", 10);
  ScheduleOrDie(*scheduler, "b", 10);

  std::unique_ptr<TestTask> task = MakeTask("a", 10);
  absl::Status status = scheduler->Schedule(&task);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->tokens(), 10);
  EXPECT_EQ(scheduler->stats().rejected_queue_full, 1);
  EXPECT_EQ(scheduler->stats().queue_depth, 2);

  // Room again once a batch is formed; on OK the scheduler takes the task.
  EXPECT_EQ(scheduler->TryFormBatch().size(), 2);
  EXPECT_TRUE(scheduler->Schedule(&task).ok());
  EXPECT_EQ(task, nullptr);
}

// Rule 0: a flooding tenant fills the queue; a light tenant is still
// admitted, and the flooder's newest row makes room (UNAVAILABLE to it).
TEST_F(BatchSchedulerTest, FullQueueAdmitsTenantUnderItsShare) {
  Scheduler::Options options = DefaultOptions();
  options.max_queue_size = 8;
  auto scheduler = MakeScheduler(options);
  std::vector<int> flood;
  for (int i = 0; i < 8; ++i) flood.push_back(ScheduleOrDie(*scheduler, "b", 10));
  std::unique_ptr<TestTask> more = MakeTask("b", 10);
  EXPECT_EQ(scheduler->Schedule(&more).code(), absl::StatusCode::kUnavailable);

  const int light = ScheduleOrDie(*scheduler, "a", 10);
  EXPECT_EQ(scheduler->stats().queue_depth, 8);
  EXPECT_EQ(scheduler->stats().pushed_out, 1);
  ASSERT_EQ(failures_.count(flood.back()), 1u);
  EXPECT_EQ(failures_[flood.back()].code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failures_[flood.back()].message(),
              ::testing::HasSubstr("more than its share"));
  EXPECT_EQ(failures_.count(light), 0u);

  // Four more light rows fit (share 8 / 2 = 4), each pushing out a flood row;
  // the fifth finds the light tenant at its share.
  for (int i = 0; i < 3; ++i) ScheduleOrDie(*scheduler, "a", 10);
  std::unique_ptr<TestTask> over = MakeTask("a", 10);
  EXPECT_EQ(scheduler->Schedule(&over).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(scheduler->stats().pushed_out, 4);
  EXPECT_EQ(scheduler->stats().queue_depth, 8);
  // The light tenant's first row anchors the first batch.
  Batch<TestTask> batch = scheduler->TryFormBatch();
  ASSERT_GT(batch.size(), 0);
  bool has_light = false;
  for (const auto& task : batch.tasks()) has_light |= task->id() == light;
  EXPECT_TRUE(has_light);
}

TEST_F(BatchSchedulerTest, PerTenantQueueLimit) {
  Scheduler::Options options = DefaultOptions();
  options.max_queue_per_tenant = 3;
  auto scheduler = MakeScheduler(options);
  for (int i = 0; i < 3; ++i) ScheduleOrDie(*scheduler, "b", 10);
  std::unique_ptr<TestTask> task = MakeTask("b", 10);
  const absl::Status status = scheduler->Schedule(&task);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("max_queue_per_tenant"));
  EXPECT_EQ(scheduler->stats().rejected_tenant_limit, 1);
  ScheduleOrDie(*scheduler, "a", 10);
}

TEST_F(BatchSchedulerTest, RejectsTaskThatCanNeverFitTheTokenBudget) {
  Scheduler::Options options = DefaultOptions();
  options.max_batch_tokens = 100;
  auto scheduler = MakeScheduler(options);

  std::unique_ptr<TestTask> too_long = MakeTask("a", 101);
  EXPECT_EQ(scheduler->Schedule(&too_long).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long, nullptr);
  std::unique_ptr<TestTask> empty = MakeTask("a", 0);
  EXPECT_EQ(scheduler->Schedule(&empty).code(),
            absl::StatusCode::kInvalidArgument);
  std::unique_ptr<TestTask> null_task;
  EXPECT_EQ(scheduler->Schedule(&null_task).code(),
            absl::StatusCode::kInvalidArgument);

  // A row exactly at the budget is accepted and goes alone.
  ScheduleOrDie(*scheduler, "a", 100);
  ScheduleOrDie(*scheduler, "a", 1);
  std::vector<Batch<TestTask>> batches = Drain(*scheduler);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].size(), 1);
  EXPECT_EQ(batches[0].max_tokens(), 100);
}

TEST_F(BatchSchedulerTest, BatchesRespectSizeAndPaddedTokenBudget) {
  Scheduler::Options options = DefaultOptions();
  options.max_batch_size = 8;
  options.max_batch_tokens = 256;
  auto scheduler = MakeScheduler(options);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> length(1, 128);
  std::set<int> ids;
  for (int i = 0; i < 300; ++i) {
    ids.insert(ScheduleOrDie(*scheduler, i % 3 == 0 ? "a" : "b", length(rng)));
  }

  std::set<int> seen;
  for (Batch<TestTask>& batch : Drain(*scheduler)) {
    EXPECT_LE(batch.size(), 8);
    EXPECT_LE(batch.padded_tokens(), 256);
    for (const auto& task : batch.tasks()) {
      EXPECT_TRUE(seen.insert(task->id()).second)
          << "row twice: " << task->id();
    }
  }
  EXPECT_EQ(seen, ids);
  EXPECT_THAT(failures_, IsEmpty());
  EXPECT_EQ(scheduler->stats().rows, 300);
  EXPECT_EQ(scheduler->stats().queue_depth, 0);
}

TEST_F(BatchSchedulerTest, LengthGroupingPadsLessThanFifo) {
  Scheduler::Options options = DefaultOptions();
  options.max_batch_size = 8;
  options.max_batch_tokens = 8 * 128;
  auto scheduler = MakeScheduler(options);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> length(4, 128);
  std::vector<int> lengths;
  for (int i = 0; i < 64; ++i) lengths.push_back(length(rng));

  // FIFO: rows in arrival order, max_batch_size at a time (the budget always
  // allows 8 rows of 128 here).
  int64_t fifo_padded = 0, real = 0;
  for (size_t i = 0; i < lengths.size(); i += 8) {
    int longest = 0;
    for (size_t j = i; j < i + 8; ++j) longest = std::max(longest, lengths[j]);
    fifo_padded += 8 * longest;
  }
  for (int l : lengths) real += l;

  for (int l : lengths) ScheduleOrDie(*scheduler, "a", l);
  int64_t grouped_padded = 0;
  for (Batch<TestTask>& batch : Drain(*scheduler)) {
    grouped_padded += batch.padded_tokens();
  }
  const double fifo_ratio = static_cast<double>(fifo_padded) / real - 1;
  const double grouped_ratio = static_cast<double>(grouped_padded) / real - 1;
  EXPECT_LT(grouped_ratio, fifo_ratio / 2)
      << "fifo " << fifo_ratio << " grouped " << grouped_ratio;
  const BatchSchedulerStats stats = scheduler->stats();
  EXPECT_EQ(stats.padded_tokens, grouped_padded);
  EXPECT_EQ(stats.real_tokens, real);
}

TEST_F(BatchSchedulerTest, DropsCancelledAndExpiredBeforeBatching) {
  auto scheduler = MakeScheduler(DefaultOptions());
  const int expiring =
      ScheduleOrDie(*scheduler, "a", 10, clock_.Now() + absl::Milliseconds(1));
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<TestTask> task = MakeTask("b", 10);
  const int cancelled_id = task->id();
  task->set_is_cancelled([cancelled] { return cancelled->load(); });
  ASSERT_TRUE(scheduler->Schedule(&task).ok());
  const int live = ScheduleOrDie(*scheduler, "a", 10);

  cancelled->store(true);  // the client leaves after the row was queued
  clock_.Advance(absl::Milliseconds(1));
  Batch<TestTask> batch = scheduler->TryFormBatch();
  ASSERT_EQ(batch.size(), 1);
  EXPECT_EQ(batch.task(0).id(), live);
  ASSERT_EQ(failures_.size(), 2u);
  EXPECT_EQ(failures_[expiring].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(failures_[cancelled_id].code(), absl::StatusCode::kCancelled);
  const BatchSchedulerStats stats = scheduler->stats();
  EXPECT_EQ(stats.dropped_deadline, 1);
  EXPECT_EQ(stats.dropped_cancelled, 1);
  EXPECT_EQ(stats.queue_depth, 0);
}

TEST_F(BatchSchedulerTest, FloodFromOneTenantDoesNotStarveAnother) {
  auto scheduler = MakeScheduler(DefaultOptions());
  for (int i = 0; i < 1000; ++i) ScheduleOrDie(*scheduler, "flood", 10);
  // A different length, so that length grouping alone would leave it behind.
  const int lone = ScheduleOrDie(*scheduler, "lone", 200);

  bool found = false;
  for (int b = 0; b < 2 && !found; ++b) {
    Batch<TestTask> batch = scheduler->TryFormBatch();
    for (const auto& task : batch.tasks()) found |= task->id() == lone;
  }
  EXPECT_TRUE(found);
}

TEST_F(BatchSchedulerTest, TakeLightRowsTakesLightTenantsBehindABacklog) {
  auto scheduler = MakeScheduler(DefaultOptions());
  for (int i = 0; i < 100; ++i) ScheduleOrDie(*scheduler, "flood", 10);
  const int a1 = ScheduleOrDie(*scheduler, "a", 12);
  const int a2 = ScheduleOrDie(*scheduler, "a", 30);
  for (int i = 0; i < 3; ++i) ScheduleOrDie(*scheduler, "heavy", 10);
  const int b1 = ScheduleOrDie(*scheduler, "b", 14);

  // Nothing when preemption is off, or when the forward's tenants have no
  // backlog ("a" has 2 rows queued, "idle" none).
  EXPECT_TRUE(scheduler->TakeLightRows({"flood"}, 0).empty());
  EXPECT_TRUE(scheduler->TakeLightRows({"a", "idle"}, 2).empty());
  // Behind the flood: the light tenants' rows, oldest tenant first; "heavy"
  // holds more than 2 rows.
  Batch<TestTask> light = scheduler->TakeLightRows({"flood"}, 2);
  std::vector<int> ids;
  for (const auto& task : light.tasks()) ids.push_back(task->id());
  EXPECT_EQ(ids, (std::vector<int>{a1, a2, b1}));
  EXPECT_EQ(scheduler->stats().queue_depth, 103);
  EXPECT_EQ(scheduler->stats().light_batches, 1);
  EXPECT_TRUE(scheduler->TakeLightRows({"flood"}, 2).empty());
  // A busy tenant is never light itself.
  const int c1 = ScheduleOrDie(*scheduler, "c", 10);
  EXPECT_TRUE(scheduler->TakeLightRows({"flood", "c"}, 2).empty());
  Batch<TestTask> later = scheduler->TakeLightRows({"flood"}, 2);
  ASSERT_EQ(later.size(), 1);
  EXPECT_EQ(later.tasks().front()->id(), c1);
  EXPECT_THAT(failures_, IsEmpty());
}

TEST_F(BatchSchedulerTest, TakeLightRowsKeepsThePaddedBudget) {
  Scheduler::Options options = DefaultOptions();
  options.preferred_batch_tokens = 100;
  auto scheduler = MakeScheduler(options);
  for (int i = 0; i < 20; ++i) ScheduleOrDie(*scheduler, "flood", 10);
  ScheduleOrDie(*scheduler, "a", 40);
  ScheduleOrDie(*scheduler, "a", 40);
  const int third = ScheduleOrDie(*scheduler, "a", 40);
  Batch<TestTask> light = scheduler->TakeLightRows({"flood"}, 8);
  EXPECT_EQ(light.size(), 2);  // 3 x 40 > 100
  Batch<TestTask> rest = scheduler->TakeLightRows({"flood"}, 8);
  ASSERT_EQ(rest.size(), 1);
  EXPECT_EQ(rest.tasks().front()->id(), third);
}

TEST_F(BatchSchedulerTest, TakeLightRowsDropsExpiredRows) {
  auto scheduler = MakeScheduler(DefaultOptions());
  for (int i = 0; i < 20; ++i) ScheduleOrDie(*scheduler, "flood", 10);
  const int expired = ScheduleOrDie(*scheduler, "a", 10, clock_.Now() + absl::Seconds(1));
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(scheduler->TakeLightRows({"flood"}, 8).empty());
  ASSERT_EQ(failures_.count(expired), 1u);
  EXPECT_TRUE(absl::IsDeadlineExceeded(failures_[expired]));
}

TEST_F(BatchSchedulerTest, LateTenantIsServedWithinTwoBatchesOfArriving) {
  auto scheduler = MakeScheduler(DefaultOptions());
  for (int i = 0; i < 1000; ++i) ScheduleOrDie(*scheduler, "flood", 10);
  for (int b = 0; b < 50; ++b) ASSERT_FALSE(scheduler->TryFormBatch().empty());
  const int late = ScheduleOrDie(*scheduler, "late", 200);

  bool found = false;
  for (int b = 0; b < 2 && !found; ++b) {
    Batch<TestTask> batch = scheduler->TryFormBatch();
    for (const auto& task : batch.tasks()) found |= task->id() == late;
  }
  EXPECT_TRUE(found);
}

TEST_F(BatchSchedulerTest, BackloggedTenantsGetRowsWithinOneBatchOfEachOther) {
  Scheduler::Options options = DefaultOptions();
  auto scheduler = MakeScheduler(options);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> short_len(4, 32), long_len(100, 250);
  // Interleaved arrival, very different lengths: grouping alone would favour
  // whichever tenant matches the anchor.
  for (int i = 0; i < 600; ++i) {
    ScheduleOrDie(*scheduler, "short", short_len(rng));
    ScheduleOrDie(*scheduler, "long", long_len(rng));
    if (i % 2 == 0) ScheduleOrDie(*scheduler, "mixed", i % 4 == 0 ? 20 : 200);
  }

  std::map<std::string, int> rows;
  for (int b = 0; b < 60; ++b) {
    Batch<TestTask> batch = scheduler->TryFormBatch();
    ASSERT_FALSE(batch.empty());
    for (const auto& task : batch.tasks()) ++rows[task->tenant()];
    int lo = INT_MAX, hi = 0;
    for (const char* t : {"short", "long", "mixed"}) {
      lo = std::min(lo, rows[t]);
      hi = std::max(hi, rows[t]);
    }
    ASSERT_LE(hi - lo, options.max_batch_size) << "after batch " << b;
  }
}

TEST_F(BatchSchedulerTest, PartialBatchWaitsForTimeoutUnlessFull) {
  Scheduler::Options options = DefaultOptions();
  options.max_batch_size = 4;
  options.max_batch_tokens = 4 * 100;
  options.batch_timeout = absl::Milliseconds(10);
  auto scheduler = MakeScheduler(options);

  ScheduleOrDie(*scheduler, "a", 10);
  clock_.Advance(absl::Milliseconds(4));
  ScheduleOrDie(*scheduler, "b", 10);
  EXPECT_TRUE(scheduler->TryFormBatch().empty());
  clock_.Advance(absl::Milliseconds(5));  // 9 ms after the oldest row
  EXPECT_TRUE(scheduler->TryFormBatch().empty());
  clock_.Advance(absl::Milliseconds(1));  // the timeout counts from the oldest
  EXPECT_EQ(scheduler->TryFormBatch().size(), 2);

  // Full by rows: released at once.
  for (int i = 0; i < 4; ++i) ScheduleOrDie(*scheduler, "a", 10);
  EXPECT_EQ(scheduler->TryFormBatch().size(), 4);

  // Full by tokens: 3 rows of 100 leave room for a 4th, so they wait; a
  // 4th makes 4 x 100 = the whole budget, and the batch goes.
  for (int i = 0; i < 3; ++i) ScheduleOrDie(*scheduler, "a", 100);
  EXPECT_TRUE(scheduler->TryFormBatch().empty());
  ScheduleOrDie(*scheduler, "a", 100);
  EXPECT_EQ(scheduler->TryFormBatch().size(), 4);

  // Work left over: the 300-token row cannot join three rows of 50 (4 x 300
  // is over budget), so waiting could not help; the 3 rows go at once.
  for (int i = 0; i < 3; ++i) ScheduleOrDie(*scheduler, "a", 50);
  ScheduleOrDie(*scheduler, "b", 300);
  Batch<TestTask> batch = scheduler->TryFormBatch();
  EXPECT_EQ(batch.size(), 3);
  EXPECT_EQ(batch.max_tokens(), 50);
  // The long row, now alone, is full too: no second row fits (2 x 300 is
  // over budget), so it does not wait either.
  batch = scheduler->TryFormBatch();
  EXPECT_EQ(batch.size(), 1);
  EXPECT_EQ(batch.max_tokens(), 300);
}

TEST_F(BatchSchedulerTest, NextBatchReturnsReadyBatchOrEmptyAfterMaxWait) {
  auto scheduler = MakeScheduler(DefaultOptions());
  absl::StatusOr<Batch<TestTask>> batch =
      scheduler->NextBatch(absl::ZeroDuration());
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(batch->empty());

  ScheduleOrDie(*scheduler, "a", 10);
  batch = scheduler->NextBatch(absl::ZeroDuration());
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->size(), 1);
}

TEST_F(BatchSchedulerTest, ShutdownUnblocksNextBatchAndFailsQueuedTasks) {
  Scheduler::Options options = DefaultOptions();
  options.clock = nullptr;  // real clock: NextBatch really waits
  options.batch_timeout = absl::Hours(1);
  auto scheduler = MakeScheduler(options);
  const int queued = ScheduleOrDie(*scheduler, "a", 10);

  absl::StatusOr<Batch<TestTask>> result;
  std::thread executor([&] { result = scheduler->NextBatch(absl::Hours(1)); });
  scheduler->Shutdown();
  executor.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(failures_[queued].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(scheduler->stats().dropped_shutdown, 1);

  std::unique_ptr<TestTask> task = MakeTask("a", 10);
  EXPECT_EQ(scheduler->Schedule(&task).code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(task, nullptr);
}

TEST_F(BatchSchedulerTest, ScheduleWakesWaitingNextBatch) {
  Scheduler::Options options = DefaultOptions();
  options.clock = nullptr;
  auto scheduler = MakeScheduler(options);
  absl::StatusOr<Batch<TestTask>> result;
  std::thread executor(
      [&] { result = scheduler->NextBatch(absl::Seconds(30)); });
  ScheduleOrDie(*scheduler, "a", 10);
  executor.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->size(), 1);
}

TEST_F(BatchSchedulerTest, ManyProducersOneExecutorSeeEveryRowOnce) {
  Scheduler::Options options = DefaultOptions();
  options.clock = nullptr;
  options.batch_timeout = absl::Microseconds(100);
  auto scheduler = MakeScheduler(options);
  constexpr int kProducers = 4, kPerProducer = 250;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&scheduler, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        auto task = std::make_unique<TestTask>(
            p * kPerProducer + i, absl::StrCat("tenant", p), 1 + i % 50,
            absl::InfiniteFuture());
        while (!scheduler->Schedule(&task).ok()) std::this_thread::yield();
      }
    });
  }
  std::set<int> seen;
  while (seen.size() < kProducers * kPerProducer) {
    absl::StatusOr<Batch<TestTask>> batch =
        scheduler->NextBatch(absl::Seconds(10));
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_FALSE(batch->empty()) << "stalled after " << seen.size();
    for (const auto& task : batch->tasks()) {
      ASSERT_TRUE(seen.insert(task->id()).second);
    }
  }
  for (std::thread& t : producers) t.join();
  EXPECT_EQ(scheduler->stats().queue_depth, 0);
}

}  // namespace
}  // namespace ptune::batching
