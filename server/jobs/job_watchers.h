// Fan-out of job events to subscribers (the gRPC WatchJob streams).
#ifndef PTUNE_SERVER_JOBS_JOB_WATCHERS_H_
#define PTUNE_SERVER_JOBS_JOB_WATCHERS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/records.h"

namespace ptune::jobs {

struct JobEvent {
  enum class Kind {
    kSnapshot,      // the job as it was when the subscription started
    kStateChanged,  // state, cancel_requested or attempts changed
    kProgress,      // progress_json changed
  };
  Kind kind = Kind::kSnapshot;
  store::Job job;  // after the change; without checkpoint bytes
};

// Called on the thread that caused the event (a runner worker, or the caller
// of Submit/Cancel/Subscribe), one event at a time over all subscribers.
// Must return quickly (e.g. queue a stream write) and must not call back
// into the runner or destroy its own Subscription.
using JobCallback = std::function<void(const JobEvent&)>;

class JobWatchers;

// Keeps a subscription alive. Destroying it unsubscribes; once the
// destructor returns the callback is never called again.
class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  friend class JobWatchers;
  Subscription(std::shared_ptr<JobWatchers> owner, std::string job_id,
               uint64_t id)
      : owner_(std::move(owner)), job_id_(std::move(job_id)), id_(id) {}
  std::shared_ptr<JobWatchers> owner_;
  std::string job_id_;
  uint64_t id_;
};

// Registry of callbacks per job id.
//
// Publishers write the store first and publish after, so a subscriber that
// starts in between sees the change in its snapshot and again as an event:
// events may repeat a snapshot's state, never precede it.
//
// Thread-safety: thread-safe; deliveries are serialized. Ownership: shared by
// the runner and every live Subscription, so subscriptions may outlive the
// runner.
class JobWatchers : public std::enable_shared_from_this<JobWatchers> {
 public:
  static std::shared_ptr<JobWatchers> Create();

  // Reads the job with `snapshot` (error: returned, nothing registered),
  // registers `callback` for `job_id` and delivers the snapshot to it, all
  // without a publication in between.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      const std::string& job_id,
      const std::function<absl::StatusOr<store::Job>()>& snapshot,
      JobCallback callback);
  // Delivers the event to every subscriber of event.job.id.
  void Publish(const JobEvent& event);
  // Whether anyone watches the job (publishers skip building events if not).
  bool HasSubscribers(const std::string& job_id);
  int SubscriberCount(const std::string& job_id);
  // Every job id with at least one subscriber.
  std::vector<std::string> WatchedJobIds();

 private:
  friend class Subscription;
  JobWatchers() = default;
  void Remove(const std::string& job_id, uint64_t id);

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, std::map<uint64_t, JobCallback>> by_job_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::jobs

#endif  // PTUNE_SERVER_JOBS_JOB_WATCHERS_H_
