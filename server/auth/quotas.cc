#include "server/auth/quotas.h"

#include "absl/strings/str_cat.h"
#include "server/common/rejection.h"

namespace ptune::auth {

QuotaLimits EffectiveQuotas(const QuotaLimits& tenant,
                            const QuotaLimits& server_defaults) {
  QuotaLimits q = tenant;
  if (q.max_prompts == 0) q.max_prompts = server_defaults.max_prompts;
  if (q.max_concurrent_jobs == 0) {
    q.max_concurrent_jobs = server_defaults.max_concurrent_jobs;
  }
  if (q.max_stored_bytes == 0)
    q.max_stored_bytes = server_defaults.max_stored_bytes;
  if (q.requests_per_second == 0) {
    q.requests_per_second = server_defaults.requests_per_second;
  }
  if (q.burst == 0) q.burst = server_defaults.burst;
  return q;
}

absl::Status CheckPromptQuota(int64_t existing_prompts, int64_t max_prompts) {
  if (max_prompts <= 0 || existing_prompts < max_prompts) {
    return absl::OkStatus();
  }
  return common::Rejected(absl::ResourceExhaustedError(
      absl::StrCat("prompt quota exceeded: the tenant owns ", existing_prompts,
                   " prompts and max_prompts is ", max_prompts,
                   "; delete a prompt or ask for a higher quota")), "prompt_quota");
}

absl::Status CheckConcurrentJobQuota(int64_t running_jobs,
                                     int64_t max_concurrent_jobs) {
  if (max_concurrent_jobs <= 0 || running_jobs < max_concurrent_jobs) {
    return absl::OkStatus();
  }
  return common::Rejected(
      absl::ResourceExhaustedError(absl::StrCat(
          "job quota exceeded: ", running_jobs,
          " training jobs are queued or running and max_concurrent_jobs is ",
          max_concurrent_jobs, "; wait for one to finish or cancel one")),
      "job_quota");
}

absl::Status CheckStorageQuota(int64_t stored_bytes, int64_t additional_bytes,
                               int64_t max_stored_bytes) {
  if (max_stored_bytes <= 0 || additional_bytes <= 0) return absl::OkStatus();
  // Written so that it cannot overflow: stored + additional <= max.
  if (stored_bytes <= max_stored_bytes &&
      additional_bytes <= max_stored_bytes - stored_bytes) {
    return absl::OkStatus();
  }
  return common::Rejected(absl::ResourceExhaustedError(
      absl::StrCat("storage quota exceeded: ", stored_bytes, " bytes stored + ",
                   additional_bytes, " new bytes is over max_stored_bytes of ",
                   max_stored_bytes,
                   "; delete datasets (ptune datasets delete) or prompts (ptune prompts delete), or ask for a "
                   "higher quota")), "storage_quota");
}

}  // namespace ptune::auth
