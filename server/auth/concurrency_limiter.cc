#include "server/auth/concurrency_limiter.h"

#include "absl/strings/str_cat.h"
#include "server/common/rejection.h"

namespace ptune::auth {

absl::StatusOr<std::unique_ptr<ConcurrencyLimiter::Slot>> ConcurrencyLimiter::Acquire(
    const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  if (max_total_ > 0 && total_ >= max_total_) {
    return common::Rejected(
        absl::ResourceExhaustedError(absl::StrCat(
            total_, " ", what_, " are in progress on this server, the most at once (", flag_,
            "); retry later")),
        "concurrency");
  }
  int& mine = per_tenant_[tenant];
  if (max_per_tenant_ > 0 && mine >= max_per_tenant_) {
    return common::Rejected(
        absl::ResourceExhaustedError(absl::StrCat("this tenant has ", mine, " ", what_,
                                                  " in progress, the most one tenant may have (",
                                                  flag_, "); retry later")),
        "concurrency");
  }
  ++mine;
  ++total_;
  return std::make_unique<Slot>(this, tenant);
}

void ConcurrencyLimiter::Release(const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  --total_;
  auto it = per_tenant_.find(tenant);
  if (it != per_tenant_.end() && --it->second <= 0) per_tenant_.erase(it);
}

int ConcurrencyLimiter::in_progress() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

}  // namespace ptune::auth
