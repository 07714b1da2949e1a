// Per-tenant quota limits and the checks against them: pure functions, so the
// service decides where the counts come from (the store) and tests need no
// fixtures. Every refusal is RESOURCE_EXHAUSTED naming the quota and the limit.
#ifndef PTUNE_SERVER_AUTH_QUOTAS_H_
#define PTUNE_SERVER_AUTH_QUOTAS_H_

#include <cstdint>

#include "absl/status/status.h"

namespace ptune::auth {

// A tenant's limits, mirroring ptune.v1.Quotas. In a tenant's record 0 means
// "the server default" (EffectiveQuotas); in the effective limits 0 (or less)
// means "no limit".
struct QuotaLimits {
  int64_t max_prompts = 0;
  int64_t max_concurrent_jobs = 0;
  int64_t max_stored_bytes = 0;
  double requests_per_second = 0;
  int64_t burst = 0;
};

// `tenant` with each unset (0) field taken from `server_defaults`.
QuotaLimits EffectiveQuotas(const QuotaLimits& tenant,
                            const QuotaLimits& server_defaults);

// Creating one more prompt when the tenant already owns `existing_prompts`.
absl::Status CheckPromptQuota(int64_t existing_prompts, int64_t max_prompts);

// Starting one more training job while `running_jobs` run (or are queued,
// as the service counts them).
absl::Status CheckConcurrentJobQuota(int64_t running_jobs,
                                     int64_t max_concurrent_jobs);

// Storing `additional_bytes` more on top of `stored_bytes`.
absl::Status CheckStorageQuota(int64_t stored_bytes, int64_t additional_bytes,
                               int64_t max_stored_bytes);

}  // namespace ptune::auth

#endif  // PTUNE_SERVER_AUTH_QUOTAS_H_
