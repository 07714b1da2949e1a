// The durable job queue: which queued training job runs next, and the
// lease under which one replica runs it. Every decision is one Store
// transaction (Store::ClaimJob and friends), so any number of replicas
// sharing a database drive one queue: FIFO within a tenant, round-robin
// across tenants, per-tenant running limits, all kept in the database.
#ifndef PTUNE_SERVER_JOBS_JOB_QUEUE_H_
#define PTUNE_SERVER_JOBS_JOB_QUEUE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/store.h"

namespace ptune::jobs {

// Thread-safety: thread-safe (the store is). Ownership: does not own the
// store, which must outlive the queue.
class JobQueue {
 public:
  struct Options {
    // Who claims: unique per process. Empty: "<replica>/<8 hex>" when
    // `replica` is set, else DefaultOwner() ("host/pid/random").
    std::string owner;
    // A stable name of this replica across its restarts (the pod name; the
    // host for a single server on a SQLite file). With it, the replica takes
    // back at once the jobs its previous process left running
    // (ReclaimPredecessors) instead of waiting for their leases to expire.
    // Two live processes must never share one.
    std::string replica;
    // How long a claim holds without a heartbeat. A replica that dies
    // loses its jobs to another one after at most this long.
    absl::Duration lease = absl::Seconds(30);
    // Runs a job gets: a job whose lease expired (its replica died under
    // it) this many times fails instead of being requeued, so a job that
    // gets its replica OOM-killed cannot take down one replica after another.
    int max_attempts = 3;
  };

  static absl::StatusOr<std::unique_ptr<JobQueue>> Create(store::Store* store,
                                                          const Options& options);

  // "<hostname>/<pid>/<8 hex>": unique across restarts of one pod.
  static std::string DefaultOwner();
  // This machine's host name ("unknown" when it has none).
  static std::string HostName();

  // Persists `job` as queued (a fresh id when job.id is empty).
  absl::StatusOr<store::Job> Submit(const store::Job& job);
  // Store::ClaimJob under this queue's owner and lease; std::nullopt when no
  // queued job may start. The job carries its checkpoint and its lease.
  absl::StatusOr<std::optional<store::Job>> Claim();
  // The heartbeat of a claimed job: true when its cancel was requested;
  // ABORTED when the lease was lost (the run must stop).
  absl::StatusOr<bool> Renew(const store::Job& job);
  // A queued job is cancelled at once; a running job gets cancel_requested
  // (its replica learns it at its next heartbeat). NOT_FOUND for unknown or
  // other tenants' jobs; FAILED_PRECONDITION when it already ended.
  absl::StatusOr<store::Job> Cancel(const std::string& tenant_id, const std::string& job_id);
  // Store::ReclaimExpiredJobs with Options::max_attempts.
  absl::StatusOr<int64_t> Reclaim();
  // At start-up: Store::ReclaimPredecessorJobs for Options::replica (0
  // without one).
  absl::StatusOr<int64_t> ReclaimPredecessors();

  store::Store* store() const { return store_; }
  const Options& options() const { return options_; }

 private:
  JobQueue(store::Store* store, const Options& options) : store_(store), options_(options) {}

  store::Store* const store_;
  const Options options_;
};

}  // namespace ptune::jobs

#endif  // PTUNE_SERVER_JOBS_JOB_QUEUE_H_
