#include "server/jobs/job_queue.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/store/store.h"

namespace ptune::jobs {

absl::StatusOr<std::unique_ptr<JobQueue>> JobQueue::Create(store::Store* store,
                                                           const Options& options) {
  if (store == nullptr) return absl::InvalidArgumentError("JobQueue needs a store");
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_attempts must be at least 1, got ", options.max_attempts));
  }
  if (options.lease < absl::Seconds(1)) {
    return absl::InvalidArgumentError("the job lease must be at least 1 second");
  }
  Options resolved = options;
  if (resolved.owner.empty()) {
    resolved.owner = resolved.replica.empty()
                         ? DefaultOwner()
                         : absl::StrCat(resolved.replica, "/", store::NewId("").substr(0, 8));
  }
  return std::unique_ptr<JobQueue>(new JobQueue(store, resolved));
}

std::string JobQueue::HostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "unknown";
  return host;
}

std::string JobQueue::DefaultOwner() {
  // NewId's random suffix: a restarted pod (same host name, maybe the same
  // pid) never holds its predecessor's leases.
  return absl::StrCat(HostName(), "/", getpid(), "/", store::NewId("").substr(0, 8));
}

absl::StatusOr<store::Job> JobQueue::Submit(const store::Job& job) {
  return store_->CreateJob(job);
}

absl::StatusOr<std::optional<store::Job>> JobQueue::Claim() {
  return store_->ClaimJob(options_.owner, options_.lease);
}

absl::StatusOr<bool> JobQueue::Renew(const store::Job& job) {
  return store_->RenewJobLease(job.tenant_id, job.id, store::JobLease::Of(job), options_.lease);
}

absl::StatusOr<store::Job> JobQueue::Cancel(const std::string& tenant_id,
                                            const std::string& job_id) {
  return store_->CancelJob(tenant_id, job_id, "cancelled by the user", absl::Now());
}

absl::StatusOr<int64_t> JobQueue::Reclaim() {
  return store_->ReclaimExpiredJobs(options_.max_attempts);
}

absl::StatusOr<int64_t> JobQueue::ReclaimPredecessors() {
  if (options_.replica.empty()) return 0;
  return store_->ReclaimPredecessorJobs(options_.replica, options_.owner, options_.max_attempts);
}

}  // namespace ptune::jobs
