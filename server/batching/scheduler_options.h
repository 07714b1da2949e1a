#ifndef PTUNE_SERVER_BATCHING_SCHEDULER_OPTIONS_H_
#define PTUNE_SERVER_BATCHING_SCHEDULER_OPTIONS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/batching/clock.h"

namespace ptune::batching {

// Tuning of a BatchScheduler. Not a template, so that ServerOptions can carry
// it without knowing the engine's task type.
struct BatchSchedulerOptions {
  // Rows queued across all tenants before Schedule answers UNAVAILABLE. Larger
  // absorbs longer bursts but lets queueing delay (and memory) grow; smaller
  // sheds load early so clients retry elsewhere while their deadline allows.
  int max_queue_size = 1024;

  // Rows one tenant may have queued, whatever the others do. A full queue is
  // also shared fairly (see BatchScheduler rule 0), so this is only the
  // ceiling of one tenant's burst: lower keeps one tenant's backlog (and its
  // queueing delay) short; higher lets a lone tenant use the whole queue.
  int max_queue_per_tenant = 1024;

  // Most rows in one batch. Larger raises device utilisation up to the point
  // where the forward is compute-bound; beyond it only latency grows.
  int max_batch_size = 32;

  // Padded token budget of one batch: rows x longest row. This is what bounds
  // the activation memory and the time of one forward (attention is computed
  // over padded positions). A task longer than this is rejected by Schedule
  // with INVALID_ARGUMENT, since it could never fit.
  int max_batch_tokens = 8192;

  // Padded token budget that batch formation aims for, when smaller than
  // max_batch_tokens (0 = max_batch_tokens): a batch is full once one more
  // row would exceed it, but a lone row up to max_batch_tokens still forms a
  // batch of its own. Smaller bounds how long a row waits behind the batch in
  // progress (the executor cannot preempt a forward); the engine sets it on
  // CPU, where small forwards lose little efficiency.
  int preferred_batch_tokens = 0;

  // How long the executor may hold a partial batch, counted from the oldest
  // queued row, hoping that more rows arrive. Larger gives fuller batches
  // (throughput) at the cost of up to this much extra latency at low load.
  // A batch that is full, or that leaves queued work behind, goes at once.
  absl::Duration batch_timeout = absl::Milliseconds(2);

  // Rows examined at the head of each tenant's queue when grouping by
  // length. Larger cuts padding further but lets a row be overtaken by more
  // rows of its own tenant (bounded latency unfairness within a tenant).
  int length_window = 64;

  // Time source for enqueue times, deadlines and batch_timeout; null means
  // Clock::Real(). Not owned; must outlive the scheduler.
  Clock* clock = nullptr;

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

// A snapshot of the scheduler's counters, for the metrics layer. Counters are
// cumulative since construction, except queue_depth.
struct BatchSchedulerStats {
  int64_t queue_depth = 0;          // rows queued now
  int64_t rejected_queue_full = 0;  // UNAVAILABLE: full, tenant at its share
  int64_t rejected_tenant_limit = 0;  // UNAVAILABLE: max_queue_per_tenant
  int64_t pushed_out = 0;  // queued rows failed to make room for a lighter tenant
  int64_t dropped_deadline = 0;     // failed with DEADLINE_EXCEEDED
  int64_t dropped_cancelled = 0;    // failed with CANCELLED
  int64_t dropped_shutdown = 0;     // failed with UNAVAILABLE by Shutdown
  int64_t batches = 0;              // batches handed to the executor
  int64_t light_batches = 0;        // of which TakeLightRows batches (rule 5)
  int64_t rows = 0;                 // rows in those batches
  int64_t real_tokens = 0;          // sum of the rows' own lengths
  int64_t padded_tokens = 0;        // sum of rows x longest row per batch
};

}  // namespace ptune::batching

#endif  // PTUNE_SERVER_BATCHING_SCHEDULER_OPTIONS_H_
