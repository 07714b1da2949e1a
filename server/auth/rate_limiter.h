#ifndef PTUNE_SERVER_AUTH_RATE_LIMITER_H_
#define PTUNE_SERVER_AUTH_RATE_LIMITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/batching/clock.h"

namespace ptune::auth {

// Per-tenant token buckets for the request rate limit (Quotas.
// requests_per_second and burst). A bucket holds up to `burst` tokens,
// refills at `rate` tokens per second, and each admitted request takes one.
// A tenant seen for the first time starts with a full bucket. The rate and
// burst are passed on every call, so a quota change takes effect on the
// tenant's next request.
//
// Thread-safety: thread-safe (one mutex; a call is a hash lookup and a few
// arithmetic operations). Ownership: does not own the clock, which must
// outlive this object.
class RateLimiter {
 public:
  // `clock` defaults to the wall clock; tests pass a FakeClock.
  explicit RateLimiter(const batching::Clock* clock = batching::Clock::Real());
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token from `tenant`'s bucket: OK, or RESOURCE_EXHAUSTED
  // "rate limit of N requests/s exceeded ..." when the bucket is empty (the
  // request is then not counted). rate_per_second <= 0 means no limit; a
  // burst below 1 is taken as 1 so that a positive rate admits something.
  absl::Status Admit(std::string_view tenant, double rate_per_second,
                     double burst);

  // Buckets currently tracked (full buckets are dropped now and then, as a
  // missing bucket behaves exactly like a full one).
  size_t tracked_tenants() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
    double rate = 0;
    double burst = 0;
  };

  // Drops buckets that have refilled completely.
  void PruneFullBuckets(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const batching::Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  uint64_t calls_since_prune_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ptune::auth

#endif  // PTUNE_SERVER_AUTH_RATE_LIMITER_H_
