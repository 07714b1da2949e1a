// HealthWatchdog: turns the server's health NOT_SERVING while the device
// executor makes no progress, and SERVING again when it recovers
// (ARCHITECTURE.md §4). Every executor turn is bounded (one batch within the
// token budget, one training slice), so a turn longer than `stall_timeout`
// means the executor is stuck: a load balancer or Kubernetes readiness probe
// should send traffic to other replicas instead of queueing it here.
//
// Thread-safety: Check and serving are thread-safe; the Server calls Check
// from its once-a-second gauge thread. Owns nothing.
#ifndef PTUNE_SERVER_SERVICE_HEALTH_WATCHDOG_H_
#define PTUNE_SERVER_SERVICE_HEALTH_WATCHDOG_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ptune::service {

class HealthWatchdog {
 public:
  // `current_turn` reports how long the executor has been in its current
  // turn (zero while idle); `set_serving` is called on every change, outside
  // any lock of the watchdog.
  HealthWatchdog(absl::Duration stall_timeout,
                 std::function<absl::Duration()> current_turn,
                 std::function<void(bool serving)> set_serving)
      : stall_timeout_(stall_timeout),
        current_turn_(std::move(current_turn)),
        set_serving_(std::move(set_serving)) {}

  // Samples the executor once; returns whether it is considered serving.
  bool Check();

  bool serving() const;

 private:
  const absl::Duration stall_timeout_;
  const std::function<absl::Duration()> current_turn_;
  const std::function<void(bool)> set_serving_;
  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_HEALTH_WATCHDOG_H_
