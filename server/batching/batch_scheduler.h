#ifndef PTUNE_SERVER_BATCHING_BATCH_SCHEDULER_H_
#define PTUNE_SERVER_BATCHING_BATCH_SCHEDULER_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/batching/batch.h"
#include "server/batching/clock.h"
#include "server/batching/scheduler_options.h"
#include "server/common/rejection.h"

namespace ptune::batching {

// Queues inference rows from many tenants and forms the batches of the one
// device executor (ARCHITECTURE.md §3-4). Torch-free: TaskT carries whatever
// the engine needs; see task.h for the members TaskT must offer.
//
// Admission (Schedule), so that a tenant within its quota always gets
// service while another floods:
//  0. A tenant may queue at most max_queue_per_tenant rows. While the queue
//     holds fewer than max_queue_size rows, any other row is admitted. When
//     it is full, a tenant's fair share is max_queue_size / tenants with
//     queued rows (itself included): a tenant at or above its share gets
//     UNAVAILABLE; a tenant below it is admitted and the tenant holding the
//     most rows (necessarily above its share) gives up its newest row, which
//     fails with UNAVAILABLE (its client retries; older rows keep their
//     place). So the queue never exceeds max_queue_size and a light tenant
//     is never refused because of a heavy one.
//
// Batch formation (TryFormBatch, which NextBatch wraps):
//  1. Rows whose client cancelled or whose deadline passed are removed and
//     failed (CANCELLED / DEADLINE_EXCEEDED); they never reach a batch.
//  2. Fairness: each tenant with queued rows has a count of rows served
//     (start-time fair queueing on rows). The anchor row of a batch is the
//     head of the least-served tenant (ties: least recently anchored, then
//     first to arrive), and no tenant may end the batch more than
//     max_batch_size rows ahead of that minimum. So a flood from one tenant
//     delays another's row by at most one batch, and among backlogged tenants
//     rows served differ by at most one batch's worth. A tenant whose queue
//     empties forgets its count; it comes back level with the least served
//     active tenant (no credit for idle time).
//  3. Length grouping: the other rows are picked from the first length_window
//     rows of every tenant, closest in length to the anchor first, while the
//     batch fits max_batch_size and the padded budget (rows x longest row)
//     of preferred_batch_tokens when set, else max_batch_tokens.
//  4. A partial batch waits until batch_timeout after its oldest queued row,
//     unless it is full (max_batch_size rows or no room for one more token
//     row) or queued work is left over (waiting would only add latency).
//  5. Light rows (TakeLightRows): while a forward runs for tenants of which
//     one has a backlog (more than `max_rows` rows still queued), the
//     executor may take every queued row of the tenants that are not in that
//     forward and hold at most `max_rows` queued rows, oldest first, within
//     the padded budget, without waiting for batch_timeout; it runs them
//     at the next pause of the forward in progress (between its attention
//     and feed-forward blocks). They count as served
//     like any other rows. Without a backlog nothing is taken: the next
//     batch comes soon and would only be cut into small forwards.
//
// Thread-safety: Schedule, Shutdown and stats are thread-safe; NextBatch and
// TryFormBatch are meant for the one executor thread (they are safe, but two
// callers would compete for rows). Ownership: owns queued tasks; a formed
// Batch owns its tasks; failed tasks are destroyed after their Fail hook.
// Destroying the scheduler shuts it down; the executor must have stopped
// calling NextBatch by then.
template <typename TaskT>
class BatchScheduler {
 public:
  using Options = BatchSchedulerOptions;

  static absl::StatusOr<std::unique_ptr<BatchScheduler>> Create(
      const Options& options) {
    if (absl::Status status = options.Validate(); !status.ok()) return status;
    return std::unique_ptr<BatchScheduler>(new BatchScheduler(options));
  }

  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;
  ~BatchScheduler() { Shutdown(); }

  // Queues *task. On OK the scheduler owns it and *task is null; on any error
  // *task is left with the caller. INVALID_ARGUMENT: null task, tokens() <= 0
  // or tokens() > max_batch_tokens (could never fit a batch). UNAVAILABLE:
  // the tenant's queue limit, a full queue in which the tenant holds its
  // share (rule 0), or shut down (retryable). May fail another tenant's
  // newest queued row (rule 0) before returning OK.
  absl::Status Schedule(std::unique_ptr<TaskT>* task) {
    if (task == nullptr) return absl::InvalidArgumentError("null task");
    if (absl::Status valid = CheckTask(task->get()); !valid.ok()) return valid;
    std::vector<std::unique_ptr<TaskT>> one;
    one.push_back(std::move(*task));
    absl::Status scheduled = ScheduleAll(&one);
    if (!scheduled.ok()) *task = std::move(one.front());  // back to the caller
    return scheduled;
  }

  // Queues all of *tasks (one request's rows, all of one tenant) or none:
  // on OK the scheduler owns them all and *tasks is empty; on error *tasks
  // is left with the caller. Errors as Schedule.
  absl::Status ScheduleAll(std::vector<std::unique_ptr<TaskT>>* tasks) {
    if (tasks == nullptr || tasks->empty()) {
      return absl::InvalidArgumentError("no tasks");
    }
    for (const std::unique_ptr<TaskT>& task : *tasks) {
      if (absl::Status valid = CheckTask(task.get()); !valid.ok()) return valid;
      if (task->tenant() != tasks->front()->tenant()) {
        return absl::InvalidArgumentError("tasks of several tenants");
      }
    }
    std::vector<Dropped> pushed_out;
    absl::Status admitted;
    {
      absl::MutexLock lock(&mu_);
      admitted = AdmitLocked(tasks->front()->tenant(),
                             static_cast<int64_t>(tasks->size()), &pushed_out);
      if (admitted.ok()) {
        for (std::unique_ptr<TaskT>& task : *tasks) QueueLocked(std::move(task));
        tasks->clear();
      }
    }
    FailAll(pushed_out);
    return admitted;
  }

  // Whether `rows` rows of `tenant` would be admitted now (rule 0), without
  // queueing or pushing out anything (a refusal is counted in the stats):
  // lets a caller refuse a request before
  // it spends work (tokenization) on it. Racy by nature; ScheduleAll decides.
  absl::Status CheckAdmission(const std::string& tenant, int64_t rows) {
    absl::MutexLock lock(&mu_);
    return AdmitLocked(tenant, rows, nullptr);
  }

  // Blocks until a batch is ready, max_wait has passed on the clock (then an
  // empty batch) or Shutdown (then CANCELLED). With a FakeClock, pass
  // max_wait = 0 (or use TryFormBatch): waits are in real time, and a fake
  // clock that does not move never reaches a later deadline.
  absl::StatusOr<Batch<TaskT>> NextBatch(absl::Duration max_wait) {
    const absl::Time give_up = clock_->Now() + max_wait;
    while (true) {
      std::vector<Dropped> dropped;
      std::optional<absl::StatusOr<Batch<TaskT>>> result;
      {
        absl::MutexLock lock(&mu_);
        const absl::Time now = clock_->Now();
        absl::Time release_at = absl::InfiniteFuture();
        if (shutdown_) {
          result = absl::CancelledError("batch scheduler shut down");
        } else if (std::optional<Batch<TaskT>> batch =
                       FormBatchLocked(now, &dropped, &release_at)) {
          result = std::move(*batch);
        } else if (now >= give_up) {
          result = Batch<TaskT>();
        } else if (dropped.empty()) {
          cv_.WaitWithTimeout(&mu_, std::min(give_up, release_at) - now);
        }
      }
      FailAll(dropped);
      if (result.has_value()) return *std::move(result);
    }
  }

  // One non-blocking formation attempt at the clock's current time: drops
  // cancelled and expired rows, then returns a batch if one is ready (see the
  // class comment), else an empty batch. For tests and for executors that
  // poll between training steps.
  Batch<TaskT> TryFormBatch() {
    std::vector<Dropped> dropped;
    std::optional<Batch<TaskT>> batch;
    {
      absl::MutexLock lock(&mu_);
      absl::Time release_at;
      if (!shutdown_)
        batch = FormBatchLocked(clock_->Now(), &dropped, &release_at);
    }
    FailAll(dropped);
    return batch.has_value() ? *std::move(batch) : Batch<TaskT>();
  }

  // Rule 5: when a tenant in `busy` (those of the forward in progress) has
  // more than `max_rows` rows queued, the queued rows of light tenants (at
  // most `max_rows` rows queued, not in `busy`), oldest first, within
  // max_batch_size and the padded budget; else an empty batch. Never waits.
  Batch<TaskT> TakeLightRows(const std::vector<std::string>& busy, int max_rows) {
    std::vector<Dropped> dropped;
    Batch<TaskT> batch;
    {
      absl::MutexLock lock(&mu_);
      if (!shutdown_ && max_rows > 0) {
        DropDeadLocked(clock_->Now(), &dropped);
        TakeLightRowsLocked(busy, max_rows, &batch);
      }
    }
    FailAll(dropped);
    return batch;
  }

  // Fails every queued task with UNAVAILABLE, refuses new ones and wakes
  // NextBatch (which then returns CANCELLED). Idempotent.
  void Shutdown() {
    std::vector<Dropped> dropped;
    {
      absl::MutexLock lock(&mu_);
      shutdown_ = true;
      for (auto& [tenant, queue] : tenants_) {
        for (Entry& entry : queue.entries) {
          dropped.push_back(
              {std::move(entry.task),
               absl::UnavailableError("batch scheduler shut down")});
          ++stats_.dropped_shutdown;
        }
      }
      tenants_.clear();
      queue_size_ = 0;
      cv_.SignalAll();
    }
    FailAll(dropped);
  }

  BatchSchedulerStats stats() const {
    absl::MutexLock lock(&mu_);
    BatchSchedulerStats stats = stats_;
    stats.queue_depth = queue_size_;
    return stats;
  }

 private:
  struct Entry {
    std::unique_ptr<TaskT> task;
    absl::Time enqueued;
    int64_t seq;  // arrival order across tenants
  };
  struct TenantQueue {
    std::deque<Entry> entries;  // arrival order
    int64_t served = 0;         // rows served, on the shared virtual scale
    int64_t last_anchor = -1;   // batch number this tenant last anchored
    int64_t arrival = 0;        // seq when the queue became non-empty
    int taking = 0;             // rows picked by the batch being formed
  };
  struct Candidate {
    TenantQueue* queue;
    int index;  // into queue->entries
    int tokens;
    int64_t seq;
  };
  struct Dropped {
    std::unique_ptr<TaskT> task;
    absl::Status status;
  };

  explicit BatchScheduler(const Options& options)
      : options_(options),
        clock_(options.clock != nullptr ? options.clock : Clock::Real()) {}

  // Admission of `rows` more rows of `tenant` (rule 0 of the class comment).
  // OK: there is room now, after rows of the most-queued tenants were pushed
  // out into *pushed_out (null: a dry run that queues and pushes out
  // nothing; a refusal still counts in the stats).
  absl::Status AdmitLocked(const std::string& tenant, int64_t rows,
                           std::vector<Dropped>* pushed_out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (shutdown_) return absl::UnavailableError("batch scheduler shut down");
    auto own = tenants_.find(tenant);
    const int64_t queued = own == tenants_.end() ? 0 : own->second.entries.size();
    const int64_t active =
        static_cast<int64_t>(tenants_.size()) + (own == tenants_.end() ? 1 : 0);
    const int64_t share = std::max<int64_t>(1, options_.max_queue_size / active);
    if (queued + rows > options_.max_queue_per_tenant) {
      ++stats_.rejected_tenant_limit;
      return common::Rejected(
          absl::UnavailableError(absl::StrCat(
              "this tenant has ", queued, " texts queued and asks for ", rows,
              " more; one tenant may queue ", options_.max_queue_per_tenant,
              " (--max_queue_per_tenant); retry later")),
          "tenant_queue");
    }
    const int64_t excess = queue_size_ + rows - options_.max_queue_size;
    if (excess <= 0) return absl::OkStatus();
    if (queued + rows > share) {
      ++stats_.rejected_queue_full;
      return common::Rejected(
          absl::UnavailableError(absl::StrCat(
              "batch queue full (", options_.max_queue_size, " texts) and this tenant "
              "would exceed its share (", share, "); retry later")),
          "queue_full");
    }
    if (pushed_out == nullptr) return absl::OkStatus();
    // Under its share in a full queue: the tenants holding the most rows
    // (necessarily more than their share) give up their newest ones.
    for (int64_t i = 0; i < excess; ++i) {
      TenantQueue* victim = nullptr;
      for (auto& [name, queue] : tenants_) {
        if (victim == nullptr || queue.entries.size() > victim->entries.size()) {
          victim = &queue;
        }
      }
      pushed_out->push_back(
          {std::move(victim->entries.back().task),
           common::Rejected(absl::UnavailableError(absl::StrCat(
                                "batch queue full (", options_.max_queue_size,
                                " texts): this tenant held more than its share (", share,
                                ") when another tenant needed room; retry later")),
                            "queue_full")});
      victim->entries.pop_back();
      --queue_size_;
      ++stats_.pushed_out;
    }
    return absl::OkStatus();
  }

  void QueueLocked(std::unique_ptr<TaskT> task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = tenants_.try_emplace(task->tenant());
    TenantQueue& queue = it->second;
    if (inserted) {
      queue.served = vtime_;
      queue.arrival = next_seq_;
    }
    queue.entries.push_back(Entry{std::move(task), clock_->Now(), next_seq_++});
    ++queue_size_;
    cv_.Signal();
  }

  absl::Status CheckTask(const TaskT* task) const {
    if (task == nullptr) return absl::InvalidArgumentError("null task");
    const int tokens = task->tokens();
    if (tokens <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("task has ", tokens, " tokens; must be positive"));
    }
    if (tokens > options_.max_batch_tokens) {
      return absl::InvalidArgumentError(absl::StrCat(
          "task has ", tokens, " tokens, more than max_batch_tokens ",
          options_.max_batch_tokens));
    }
    return absl::OkStatus();
  }

  static void FailAll(std::vector<Dropped>& dropped) {
    for (Dropped& d : dropped) d.task->Fail(std::move(d.status));
  }

  // Removes cancelled and expired rows into *dropped.
  void DropDeadLocked(absl::Time now, std::vector<Dropped>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = tenants_.begin(); it != tenants_.end();) {
      std::deque<Entry>& entries = it->second.entries;
      auto keep = entries.begin();
      for (auto e = entries.begin(); e != entries.end(); ++e) {
        if (e->task->cancelled()) {
          ++stats_.dropped_cancelled;
          dropped->push_back(
              {std::move(e->task), absl::CancelledError("request cancelled")});
        } else if (e->task->deadline() <= now) {
          ++stats_.dropped_deadline;
          dropped->push_back(
              {std::move(e->task),
               absl::DeadlineExceededError(
                   "deadline passed while waiting for a batch")});
        } else {
          if (keep != e) *keep = std::move(*e);
          ++keep;
        }
      }
      queue_size_ -= entries.end() - keep;
      entries.erase(keep, entries.end());
      if (entries.empty()) {
        tenants_.erase(it++);
      } else {
        ++it;
      }
    }
  }

  // Forms the next batch if one is ready at `now`; otherwise sets
  // *release_at to when a partial batch would be released by the timeout.
  std::optional<Batch<TaskT>> FormBatchLocked(absl::Time now,
                                              std::vector<Dropped>* dropped,
                                              absl::Time* release_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    *release_at = absl::InfiniteFuture();
    DropDeadLocked(now, dropped);
    if (tenants_.empty()) return std::nullopt;

    // The anchor: head of the least-served tenant.
    TenantQueue* anchor = nullptr;
    absl::Time oldest = absl::InfiniteFuture();
    for (auto& [tenant, queue] : tenants_) {
      queue.taking = 0;
      oldest = std::min(oldest, queue.entries.front().enqueued);
      if (anchor == nullptr ||
          std::tie(queue.served, queue.last_anchor, queue.arrival) <
              std::tie(anchor->served, anchor->last_anchor, anchor->arrival)) {
        anchor = &queue;
      }
    }
    const int64_t min_served = anchor->served;
    vtime_ = min_served;
    const int64_t max_served = min_served + options_.max_batch_size;

    const int anchor_tokens = anchor->entries.front().task->tokens();
    std::vector<Candidate> candidates;
    for (auto& [tenant, queue] : tenants_) {
      const int window = std::min<int>(options_.length_window,
                                       static_cast<int>(queue.entries.size()));
      for (int i = (&queue == anchor ? 1 : 0); i < window; ++i) {
        const Entry& e = queue.entries[i];
        candidates.push_back({&queue, i, e.task->tokens(), e.seq});
      }
    }
    std::sort(candidates.begin(), candidates.end(),
              [anchor_tokens](const Candidate& a, const Candidate& b) {
                const int da = std::abs(a.tokens - anchor_tokens);
                const int db = std::abs(b.tokens - anchor_tokens);
                return da != db ? da < db : a.seq < b.seq;
              });

    const int64_t budget = PaddedBudget();
    std::vector<Candidate> picked = {{anchor, 0, anchor_tokens, 0}};
    anchor->taking = 1;
    int max_tokens = anchor_tokens;
    for (const Candidate& c : candidates) {
      const int rows = static_cast<int>(picked.size());
      if (rows == options_.max_batch_size) break;
      if (c.queue->served + c.queue->taking + 1 > max_served) continue;
      const int longest = std::max(max_tokens, c.tokens);
      if (static_cast<int64_t>(rows + 1) * longest > budget) continue;
      picked.push_back(c);
      ++c.queue->taking;
      max_tokens = longest;
    }

    const int rows = static_cast<int>(picked.size());
    const bool full = rows == options_.max_batch_size ||
                      static_cast<int64_t>(rows + 1) * max_tokens > budget;
    const bool work_left = rows < queue_size_;
    if (!full && !work_left && now < oldest + options_.batch_timeout) {
      *release_at = oldest + options_.batch_timeout;
      return std::nullopt;
    }

    anchor->last_anchor = stats_.batches;
    Batch<TaskT> batch;
    for (const Candidate& c : picked) {
      batch.Add(std::move(c.queue->entries[c.index].task));
    }
    for (auto it = tenants_.begin(); it != tenants_.end();) {
      TenantQueue& queue = it->second;
      if (queue.taking > 0) {
        queue.served += queue.taking;
        const int window = std::min<int>(
            options_.length_window, static_cast<int>(queue.entries.size()));
        auto end = queue.entries.begin() + window;
        queue.entries.erase(
            std::remove_if(queue.entries.begin(), end,
                           [](const Entry& e) { return e.task == nullptr; }),
            end);
      }
      if (queue.entries.empty()) {
        tenants_.erase(it++);
      } else {
        ++it;
      }
    }
    queue_size_ -= rows;
    ++stats_.batches;
    stats_.rows += rows;
    stats_.real_tokens += batch.real_tokens();
    stats_.padded_tokens += batch.padded_tokens();
    return batch;
  }

  // The padded positions (rows x longest row) a batch may hold.
  int64_t PaddedBudget() const {
    return options_.preferred_batch_tokens > 0
               ? std::min(options_.preferred_batch_tokens, options_.max_batch_tokens)
               : options_.max_batch_tokens;
  }

  void TakeLightRowsLocked(const std::vector<std::string>& busy, int max_rows,
                           Batch<TaskT>* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    bool backlog = false;
    for (const std::string& tenant : busy) {
      auto it = tenants_.find(tenant);
      backlog |= it != tenants_.end() &&
                 static_cast<int>(it->second.entries.size()) > max_rows;
    }
    if (!backlog) return;
    std::vector<TenantQueue*> light;
    for (auto& [tenant, queue] : tenants_) {
      if (static_cast<int>(queue.entries.size()) <= max_rows &&
          std::find(busy.begin(), busy.end(), tenant) == busy.end()) {
        light.push_back(&queue);
      }
    }
    if (light.empty()) return;
    std::sort(light.begin(), light.end(), [](const TenantQueue* a, const TenantQueue* b) {
      return a->entries.front().seq < b->entries.front().seq;
    });
    const int64_t budget = PaddedBudget();
    int rows = 0, longest = 0;
    for (TenantQueue* queue : light) {
      int taken = 0;
      while (!queue->entries.empty() && rows < options_.max_batch_size) {
        const int tokens = queue->entries.front().task->tokens();
        const int next_longest = std::max(longest, tokens);
        // The first row always goes: it fits max_batch_tokens (CheckTask).
        if (rows > 0 && static_cast<int64_t>(rows + 1) * next_longest > budget) break;
        batch->Add(std::move(queue->entries.front().task));
        queue->entries.pop_front();
        ++rows;
        ++taken;
        longest = next_longest;
      }
      queue->served += taken;
    }
    for (auto it = tenants_.begin(); it != tenants_.end();) {
      if (it->second.entries.empty()) {
        tenants_.erase(it++);
      } else {
        ++it;
      }
    }
    queue_size_ -= rows;
    ++stats_.batches;
    ++stats_.light_batches;
    stats_.rows += rows;
    stats_.real_tokens += batch->real_tokens();
    stats_.padded_tokens += batch->padded_tokens();
  }

  const Options options_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // signalled on Schedule and Shutdown
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // Only tenants with queued rows.
  absl::flat_hash_map<std::string, TenantQueue> tenants_ ABSL_GUARDED_BY(mu_);
  int64_t queue_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t vtime_ ABSL_GUARDED_BY(mu_) = 0;     // least served, last batch
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;  // arrival counter
  BatchSchedulerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::batching

#endif  // PTUNE_SERVER_BATCHING_BATCH_SCHEDULER_H_
