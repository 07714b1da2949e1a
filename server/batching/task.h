#ifndef PTUNE_SERVER_BATCHING_TASK_H_
#define PTUNE_SERVER_BATCHING_TASK_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ptune::batching {

// One row of inference work, as the BatchScheduler sees it. The engine derives
// its own task from this (adding the token ids, the prompt and the reply
// callback) and instantiates BatchScheduler<ItsTask>.
//
// Any TaskT given to BatchScheduler must offer the same members as this class:
//   int tokens() const;                  // real (unpadded) length, > 0
//   const std::string& tenant() const;   // fairness key
//   absl::Time deadline() const;         // InfiniteFuture() = none
//   bool cancelled() const;              // e.g. the client went away
//   void Fail(absl::Status status);      // completes a task never batched
//
// Thread-safety: not thread-safe; owned by one thread at a time (the caller of
// Schedule, then the scheduler, then the executor). Move-only.
class Task {
 public:
  Task(std::string tenant, int tokens,
       absl::Time deadline = absl::InfiniteFuture())
      : tenant_(std::move(tenant)), tokens_(tokens), deadline_(deadline) {}
  virtual ~Task() = default;

  Task(Task&&) = default;
  Task& operator=(Task&&) = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  const std::string& tenant() const { return tenant_; }
  int tokens() const { return tokens_; }
  absl::Time deadline() const { return deadline_; }

  // Polled by the scheduler before a task may join a batch; must be cheap and
  // thread-safe (e.g. grpc::CallbackServerContext::IsCancelled).
  void set_is_cancelled(std::function<bool()> is_cancelled) {
    is_cancelled_ = std::move(is_cancelled);
  }
  bool cancelled() const { return is_cancelled_ && is_cancelled_(); }

  // Called at most once, with the status of a task that will never run
  // (DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE at shutdown). Called without
  // any scheduler lock held, so it may do anything but destroy the scheduler.
  void set_on_failed(absl::AnyInvocable<void(absl::Status)> on_failed) {
    on_failed_ = std::move(on_failed);
  }
  void Fail(absl::Status status) {
    if (on_failed_) {
      auto on_failed = std::move(on_failed_);
      on_failed_ = nullptr;
      on_failed(std::move(status));
    }
  }

 private:
  std::string tenant_;
  int tokens_;
  absl::Time deadline_;
  std::function<bool()> is_cancelled_;
  absl::AnyInvocable<void(absl::Status)> on_failed_;
};

}  // namespace ptune::batching

#endif  // PTUNE_SERVER_BATCHING_TASK_H_
