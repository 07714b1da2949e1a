#include "server/jobs/job_queue.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"

namespace ptune::jobs {

absl::StatusOr<std::unique_ptr<JobQueue>> JobQueue::Create(
    store::Store* store, const Options& options) {
  if (store == nullptr) return absl::InvalidArgumentError("JobQueue needs a store");
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_attempts must be at least 1, got ", options.max_attempts));
  }
  if (options.max_running_jobs < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_running_jobs must be at least 1, got ", options.max_running_jobs));
  }
  return std::unique_ptr<JobQueue>(new JobQueue(store, options));
}

absl::StatusOr<store::Job> JobQueue::Submit(const store::Job& job) {
  return store_->CreateJob(job);
}

absl::StatusOr<std::optional<store::Job>> JobQueue::Claim() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<store::Job> heads, store_->ListQueueHeads());
  if (heads.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(int64_t running,
                   store_->CountJobsInState(store::JobState::kRunning));
  if (running >= options_.max_running_jobs) return std::nullopt;

  // Heads come sorted by tenant id: start after the tenant served last.
  // (A copy: the lambda runs under mu_, which -Wthread-safety cannot see.)
  const std::string last_tenant = last_tenant_;
  auto after_last = std::find_if(
      heads.begin(), heads.end(),
      [&](const store::Job& job) { return job.tenant_id > last_tenant; });
  std::rotate(heads.begin(), after_last, heads.end());

  for (const store::Job& head : heads) {
    absl::StatusOr<store::Tenant> tenant = store_->GetTenant(head.tenant_id);
    if (absl::IsNotFound(tenant.status())) continue;  // deleted meanwhile
    if (!tenant.ok()) return tenant.status();
    if (tenant->disabled) continue;
    ASSIGN_OR_RETURN(int64_t tenant_running,
                     store_->CountTenantJobsInState(head.tenant_id,
                                                    store::JobState::kRunning));
    if (tenant_running >= tenant->quotas.max_concurrent_jobs) continue;
    absl::StatusOr<store::Job> started =
        store_->StartJob(head.tenant_id, head.id, absl::Now());
    // Cancelled, or taken by another process, since the heads were read.
    if (absl::IsFailedPrecondition(started.status()) ||
        absl::IsNotFound(started.status())) {
      continue;
    }
    if (!started.ok()) return started.status();
    last_tenant_ = head.tenant_id;
    return std::optional<store::Job>(*std::move(started));
  }
  return std::nullopt;
}

absl::StatusOr<store::Job> JobQueue::Cancel(const std::string& tenant_id,
                                            const std::string& job_id) {
  return store_->CancelJob(tenant_id, job_id, "cancelled by the user",
                           absl::Now());
}

absl::StatusOr<int64_t> JobQueue::Recover() {
  return store_->RecoverRunningJobs(absl::Now(), options_.max_attempts);
}

}  // namespace ptune::jobs
