#include "server/auth/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "server/common/rejection.h"

namespace ptune::auth {
namespace {

// Pruning scans every bucket, so it runs once per this many calls (amortized
// O(1) per call).
constexpr uint64_t kPruneEvery = 4096;

double Refilled(double tokens, double rate, double burst,
                absl::Duration elapsed) {
  const double seconds = std::max(0.0, absl::ToDoubleSeconds(elapsed));
  return std::min(burst, tokens + seconds * rate);
}

}  // namespace

RateLimiter::RateLimiter(const batching::Clock* clock) : clock_(clock) {}

absl::Status RateLimiter::Admit(std::string_view tenant, double rate_per_second,
                                double burst) {
  if (!(rate_per_second > 0) || std::isinf(rate_per_second)) {
    return absl::OkStatus();
  }
  burst = std::max(1.0, burst);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (++calls_since_prune_ >= kPruneEvery) {
    calls_since_prune_ = 0;
    PruneFullBuckets(now);
  }
  const absl::string_view key(tenant.data(), tenant.size());
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(tenant), Bucket{burst, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens =
      Refilled(bucket.tokens, rate_per_second, burst, now - bucket.updated);
  bucket.updated = now;
  bucket.rate = rate_per_second;
  bucket.burst = burst;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return absl::OkStatus();
  }
  const double wait_seconds = (1.0 - bucket.tokens) / rate_per_second;
  return common::Rejected(
      absl::ResourceExhaustedError(absl::StrFormat(
          "rate limit of %g requests/s exceeded (burst %g); retry in %d ms", rate_per_second,
          burst, static_cast<int64_t>(std::ceil(wait_seconds * 1000)))),
      "rate_limit");
}

void RateLimiter::PruneFullBuckets(absl::Time now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const Bucket& b = it->second;
    if (Refilled(b.tokens, b.rate, b.burst, now - b.updated) >= b.burst) {
      buckets_.erase(it++);
    } else {
      ++it;
    }
  }
}

size_t RateLimiter::tracked_tenants() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace ptune::auth
