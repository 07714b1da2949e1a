// Runs queued training jobs on worker threads and is the jobs facade the
// service calls: submit, cancel, get, list, watch.
#ifndef PTUNE_SERVER_JOBS_JOB_RUNNER_H_
#define PTUNE_SERVER_JOBS_JOB_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/jobs/job_executor.h"
#include "server/jobs/job_queue.h"
#include "server/jobs/job_watchers.h"
#include "server/store/store.h"

namespace ptune::jobs {

// Owns `concurrency` worker threads (this replica's share of training: the
// database, not this process, enforces the per-tenant limits). Each claims
// a job from the JobQueue under a lease, calls JobExecutor::Run and records
// the end: succeeded (with the outcome written to the prompt version),
// failed (reason = the status message) or cancelled.
//
// A maintenance thread, never the device executor's, does the store work of
// running jobs: it writes their progress and checkpoints (the executor only
// hands them over), renews their leases (the heartbeat, which also brings a
// cancel requested on another replica), reclaims jobs whose replica died
// (expired leases), and polls jobs that run elsewhere for local watchers.
// A job whose lease is lost (a write refused with ABORTED: another replica
// took it over) stops at once and writes nothing more.
//
// Stop() asks running jobs to stop and hands them back to the queue with
// their checkpoint (ReleaseJob), so another replica resumes them at once;
// they are never marked failed.
//
// Thread-safety: thread-safe. Ownership: borrows the queue (and its store)
// and the executor, which must outlive the runner; owns its threads.
class JobRunner {
 public:
  struct Options {
    // Worker threads, i.e. jobs this replica runs at once (each tenant's
    // max_concurrent_jobs caps it across all replicas, in the store). Each
    // running job holds its training state in memory.
    int concurrency = 1;
    // How long an idle worker sleeps before looking at the store again.
    // Submit, Cancel and finished jobs wake workers at once, so this only
    // matters for jobs that become runnable without this runner noticing
    // (another process, a raised quota).
    absl::Duration poll_interval = absl::Seconds(1);
    // Lease renewals (which bring cancels requested on other replicas) and
    // progress writes of running jobs; zero: 2 s, or a third of the queue's
    // lease when that is shorter.
    absl::Duration heartbeat_interval = absl::ZeroDuration();
    // How often this replica looks for expired leases; zero: half the lease.
    absl::Duration reclaim_interval = absl::ZeroDuration();
    // How often jobs running on other replicas are read for local watchers.
    absl::Duration watch_poll_interval = absl::Seconds(1);
    // Called (on a worker thread) when a job this runner ran has ended
    // (succeeded, failed or cancelled) and the end is stored; not for jobs
    // released at Stop. May be empty. Must be quick (metrics).
    std::function<void(const store::Job& ended)> on_finished;
  };

  static absl::StatusOr<std::unique_ptr<JobRunner>> Create(
      JobQueue* queue, JobExecutor* executor, const Options& options);
  ~JobRunner();  // Stop()

  // Starts the workers and the maintenance thread.
  absl::Status Start();
  // Asks running jobs to stop, waits for them and releases them (resumable).
  // Idempotent; the runner cannot be started again.
  void Stop();

  // JobQueue::Submit + wakes a worker + publishes a state event.
  absl::StatusOr<store::Job> Submit(const store::Job& job);
  // Store::SubmitTraining (datasets, prompt version and job in one
  // transaction) + wakes a worker.
  absl::StatusOr<store::Job> SubmitTraining(const store::TrainingSubmission& submission);
  // JobQueue::Cancel + signals the executor of a running job + publishes.
  absl::StatusOr<store::Job> Cancel(const std::string& tenant_id,
                                    const std::string& job_id);
  absl::StatusOr<store::Job> GetJob(const std::string& tenant_id,
                                    const std::string& job_id);
  absl::StatusOr<store::JobPage> ListJobs(const std::string& tenant_id,
                                          std::optional<store::JobState> state,
                                          int page_size,
                                          const std::string& page_token);
  // Delivers the job's current state (kSnapshot) and then every change until
  // the returned Subscription is destroyed. NOT_FOUND for unknown jobs and
  // other tenants' jobs.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      const std::string& tenant_id, const std::string& job_id,
      JobCallback callback);

  // Jobs being executed by this runner now.
  int running_jobs();

 private:
  class Context;
  // A job this runner executes now.
  struct Running {
    explicit Running(store::Job claimed) : job(WithoutCheckpoint(std::move(claimed))) {}
    static store::Job WithoutCheckpoint(store::Job j) {
      j.checkpoint.clear();
      return j;
    }
    const store::Job job;  // as claimed: its lease, without the checkpoint
    std::atomic<bool> user_cancel{false};
    std::atomic<bool> lease_lost{false};
    // The newest progress (and checkpoint) handed over by the executor and
    // not yet written; the maintenance thread writes it.
    absl::Mutex mu;
    std::optional<std::string> pending_progress ABSL_GUARDED_BY(mu);
    std::optional<std::string> pending_checkpoint ABSL_GUARDED_BY(mu);
    absl::Mutex write_mu;  // one write of this job's progress at a time
  };

  JobRunner(JobQueue* queue, JobExecutor* executor, const Options& options);
  void WorkerLoop();
  void MaintenanceLoop();
  // Waits for the store's job-change notifications (PostgreSQL) and wakes
  // the workers and the maintenance thread; returns at once on engines
  // without them.
  void ListenLoop();
  void RunOne(store::Job job);
  // Writes the job's pending progress/checkpoint, if any, and publishes it.
  void FlushProgress(Running& running);
  // The jobs this runner executes now.
  std::vector<std::shared_ptr<Running>> RunningJobs();
  // Heartbeats every running job (cancel requests, lost leases).
  void RenewLeases();
  // Publishes changes of watched jobs that run on other replicas.
  void PollRemoteJobs();
  // Records how the executor ended and returns the job after it.
  absl::StatusOr<store::Job> Conclude(const store::Job& job,
                                      const absl::StatusOr<JobOutcome>& outcome,
                                      bool user_cancel);
  void Publish(JobEvent::Kind kind, store::Job job);
  void Wake();

  JobQueue* const queue_;
  store::Store* const store_;
  JobExecutor* const executor_;
  Options options_;  // intervals resolved in the constructor
  const std::shared_ptr<JobWatchers> watchers_;
  std::atomic<bool> stopping_{false};

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped whenever a job may have become runnable; idle workers wait on it.
  uint64_t wake_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::shared_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  // Bumped when the maintenance thread has writes to do.
  uint64_t flush_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // A job changed elsewhere: heartbeat and poll watched jobs now.
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  // Watched jobs and what their watchers last saw, by job id: the
  // maintenance thread polls those that run on other replicas.
  struct Watched {
    std::string tenant_id;
    std::string state_key;  // state, attempts, cancel_requested
    std::string progress_json;
  };
  std::map<std::string, Watched> watched_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::jobs

#endif  // PTUNE_SERVER_JOBS_JOB_RUNNER_H_
