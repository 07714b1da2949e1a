// ConcurrencyLimiter: how many calls of one kind (uploads, exports) may be in
// progress at once, in all and per tenant, so that a few tenants' large calls
// cannot exhaust the server's memory. Acquire returns a Slot that frees its
// place when destroyed.
//
// Thread-safety: thread-safe. A Slot may be destroyed on any thread and
// must not outlive its limiter.
#ifndef PTUNE_SERVER_AUTH_CONCURRENCY_LIMITER_H_
#define PTUNE_SERVER_AUTH_CONCURRENCY_LIMITER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ptune::auth {

class ConcurrencyLimiter {
 public:
  // `what` names the calls in errors ("uploads"); `flag` the flag that sets
  // the limits. Limits < 1 mean no limit.
  ConcurrencyLimiter(std::string what, std::string flag, int max_total, int max_per_tenant)
      : what_(std::move(what)), flag_(std::move(flag)), max_total_(max_total),
        max_per_tenant_(max_per_tenant) {}

  class Slot {
   public:
    Slot(ConcurrencyLimiter* limiter, std::string tenant)
        : limiter_(limiter), tenant_(std::move(tenant)) {}
    ~Slot() { limiter_->Release(tenant_); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    ConcurrencyLimiter* const limiter_;
    const std::string tenant_;
  };

  // A place for one call of `tenant`, or RESOURCE_EXHAUSTED naming the limit.
  absl::StatusOr<std::unique_ptr<Slot>> Acquire(const std::string& tenant);

  int in_progress() const;

 private:
  void Release(const std::string& tenant);

  const std::string what_;
  const std::string flag_;
  const int max_total_;
  const int max_per_tenant_;
  mutable absl::Mutex mu_;
  int total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> per_tenant_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::auth

#endif  // PTUNE_SERVER_AUTH_CONCURRENCY_LIMITER_H_
