// Which queued training job runs next: FIFO within a tenant, round-robin
// across tenants, under per-tenant and global concurrency limits. All state
// lives in the Store, so a restart loses nothing.
#ifndef PTUNE_SERVER_JOBS_JOB_QUEUE_H_
#define PTUNE_SERVER_JOBS_JOB_QUEUE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/store.h"

namespace ptune::jobs {

// The durable job queue over a Store.
//
// Fairness: Claim() visits tenants with queued jobs in round-robin order of
// tenant id, starting after the tenant served last, so a tenant's first job
// waits at most one turn of every other tenant, however many jobs they
// queued. Within a tenant, jobs run in submission order (a job requeued
// after a crash or shutdown keeps its original place).
//
// Limits: a tenant runs at most Tenant::quotas.max_concurrent_jobs jobs at
// once; all tenants together at most Options::max_running_jobs. Running
// jobs are counted in the Store, so a finished job frees its slot when the
// Store records it finished.
//
// Most callers want JobRunner, which wraps this queue and notifies
// watchers; calling the queue directly bypasses watcher notifications.
//
// Thread-safety: thread-safe; claims are serialized inside one process.
// (Several processes on one SQLite file would still never run a job twice:
// Store::StartJob is a compare-and-set; they could exceed the limits.)
// Ownership: does not own the store, which must outlive the queue.
class JobQueue {
 public:
  struct Options {
    // Jobs running at once over all tenants: the share of the device that
    // training may take. More means more tenants progress at once but each
    // more slowly, and serving shares the device with all of them.
    int max_running_jobs = 1;
    // Runs a job gets: Recover fails a job that has been cut short (the
    // process died under it) this many times instead of requeueing it, so
    // a job that gets the process OOM-killed cannot crash-loop the server.
    int max_attempts = 3;
  };

  static absl::StatusOr<std::unique_ptr<JobQueue>> Create(store::Store* store,
                                                          const Options& options);

  // Persists `job` as queued (a fresh id when job.id is empty) and returns
  // the stored job.
  absl::StatusOr<store::Job> Submit(const store::Job& job);

  // Picks the next runnable job and marks it running. std::nullopt when no
  // queued job may start now (none queued, or every candidate's tenant and/or
  // the global limit is full). The returned job carries its checkpoint.
  absl::StatusOr<std::optional<store::Job>> Claim();

  // A queued job is cancelled at once; a running job gets cancel_requested
  // (the runner stops it at its next step). Returns the job after the change;
  // NOT_FOUND for unknown/other tenants' jobs; FAILED_PRECONDITION when it
  // already ended.
  absl::StatusOr<store::Job> Cancel(const std::string& tenant_id,
                                    const std::string& job_id);

  // Start-up recovery after a crash: jobs left running go back to queued
  // (checkpoint kept, attempts + 1), to cancelled when their cancel had been
  // requested, or to failed after Options::max_attempts cut-short runs.
  // Call before any runner starts. Returns how many moved.
  absl::StatusOr<int64_t> Recover();

  store::Store* store() const { return store_; }

 private:
  JobQueue(store::Store* store, const Options& options)
      : store_(store), options_(options) {}

  store::Store* const store_;
  const Options options_;
  absl::Mutex mu_;
  std::string last_tenant_ ABSL_GUARDED_BY(mu_);  // served by the last claim
};

}  // namespace ptune::jobs

#endif  // PTUNE_SERVER_JOBS_JOB_QUEUE_H_
