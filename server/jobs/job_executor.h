// The seam between the job runner and whatever does the work (the engine's
// trainer in production, a test double in tests).
#ifndef PTUNE_SERVER_JOBS_JOB_EXECUTOR_H_
#define PTUNE_SERVER_JOBS_JOB_EXECUTOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/jobs/job_progress.h"
#include "server/store/records.h"

namespace ptune::jobs {

// What a running job may do besides its work. Given to JobExecutor::Run by
// the runner and valid only during that call.
//
// Thread-safety: the calls are meant for the executor's thread; cancelled()
// may be called from any thread.
class JobContext {
 public:
  virtual ~JobContext() = default;

  // Persists `progress` (Job::progress_json) and pushes it to watchers.
  virtual absl::Status ReportProgress(const JobProgress& progress) = 0;
  // Persists `checkpoint` together with `progress` in one transaction (a
  // crash leaves both old or both new) and pushes the progress to watchers.
  virtual absl::Status SaveCheckpoint(const JobProgress& progress,
                                      std::string checkpoint) = 0;
  // True once the user cancelled the job or the runner is shutting down.
  // The executor should then return soon (absl::CancelledError is the
  // expected answer); the runner decides whether the job ends cancelled
  // (user) or goes back to the queue to resume later (shutdown).
  virtual bool cancelled() const = 0;
};

// What a succeeded job produced. When `has_prompt`, it is written to the
// job's prompt version (tenant, job.prompt_name, job.prompt_version), which
// becomes ready, in the same transaction that marks the job succeeded.
struct JobOutcome {
  bool has_prompt = true;
  std::string metrics_json;
  std::vector<std::string> labels;
  std::string spec_json;  // empty: keep the spec stored at submission
  std::string artifact_safetensors;
  std::string artifact_json;
};

// Runs jobs. Implementations must be safe to call from several runner
// threads at once (one job per call).
class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Runs (or resumes, when job.checkpoint is non-empty) the job. Blocks.
  // Must poll ctx.cancelled() between steps. An error status fails the job
  // with the status message as its reason (unless it was cancelled).
  virtual absl::StatusOr<JobOutcome> Run(const store::Job& job,
                                         JobContext& ctx) = 0;
};

}  // namespace ptune::jobs

#endif  // PTUNE_SERVER_JOBS_JOB_EXECUTOR_H_
