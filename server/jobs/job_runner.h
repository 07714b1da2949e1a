// Runs queued training jobs on worker threads and is the jobs facade the
// service calls: submit, cancel, get, list, watch.
#ifndef PTUNE_SERVER_JOBS_JOB_RUNNER_H_
#define PTUNE_SERVER_JOBS_JOB_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <map>
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

// Owns `concurrency` worker threads. Each claims a job from the JobQueue,
// calls JobExecutor::Run and records the end: succeeded (with the outcome
// written to the prompt version), failed (reason = the status message) or
// cancelled. Stop() asks running jobs to stop; a job stopped by shutdown
// (not by its user) goes back to the queue with its checkpoint, to resume
// after the restart, and is never marked failed.
//
// Thread-safety: thread-safe. Ownership: borrows the queue (and its store)
// and the executor, which must outlive the runner; owns its threads.
class JobRunner {
 public:
  struct Options {
    // Worker threads, i.e. jobs this process runs at once (the queue's
    // max_running_jobs also caps them). Each running job holds its training
    // state in memory.
    int concurrency = 1;
    // How long an idle worker sleeps before looking at the store again.
    // Submit, Cancel and finished jobs wake workers at once, so this only
    // matters for jobs that become runnable without this runner noticing
    // (another process, a raised quota).
    absl::Duration poll_interval = absl::Seconds(1);
  };

  static absl::StatusOr<std::unique_ptr<JobRunner>> Create(
      JobQueue* queue, JobExecutor* executor, const Options& options);
  ~JobRunner();  // Stop()

  // Starts the workers. Call JobQueue::Recover() first after a crash.
  absl::Status Start();
  // Asks running jobs to stop, waits for them and requeues them (resumable).
  // Idempotent; the runner cannot be started again.
  void Stop();

  // JobQueue::Submit + wakes a worker + publishes a state event.
  absl::StatusOr<store::Job> Submit(const store::Job& job);
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
    std::atomic<bool> user_cancel{false};
  };

  JobRunner(JobQueue* queue, JobExecutor* executor, const Options& options);
  void WorkerLoop();
  void RunOne(store::Job job);
  // Records how the executor ended and returns the job after it.
  absl::StatusOr<store::Job> Conclude(const store::Job& job,
                                      const absl::StatusOr<JobOutcome>& outcome,
                                      bool user_cancel);
  void Publish(JobEvent::Kind kind, store::Job job);
  void Wake();

  JobQueue* const queue_;
  store::Store* const store_;
  JobExecutor* const executor_;
  const Options options_;
  const std::shared_ptr<JobWatchers> watchers_;
  std::atomic<bool> stopping_{false};

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped whenever a job may have become runnable; idle workers wait on it.
  uint64_t wake_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::shared_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::jobs

#endif  // PTUNE_SERVER_JOBS_JOB_RUNNER_H_
