#ifndef PTUNE_SERVER_BATCHING_CLOCK_H_
#define PTUNE_SERVER_BATCHING_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ptune::batching {

// The time source of the batching code, injected so that tests can control
// time (deadlines, batch_timeout) without sleeping. Kept here rather than in
// server/common because server/common links LibTorch and this module must
// stay torch-free.
//
// Thread-safety: implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide wall clock; never null, never deleted.
  static Clock* Real();
};

// A clock that moves only when a test says so.
//
// Thread-safety: thread-safe. Ownership: owned by the test; must outlive every
// object it is passed to.
class FakeClock : public Clock {
 public:
  // Starts at an arbitrary fixed instant, so tests are reproducible.
  FakeClock() : now_(absl::FromUnixSeconds(1'700'000'000)) {}
  explicit FakeClock(absl::Time start) : now_(start) {}

  absl::Time Now() const override;
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::batching

#endif  // PTUNE_SERVER_BATCHING_CLOCK_H_
