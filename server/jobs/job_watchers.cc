#include "server/jobs/job_watchers.h"

#include <utility>

namespace ptune::jobs {

Subscription::~Subscription() { owner_->Remove(job_id_, id_); }

std::shared_ptr<JobWatchers> JobWatchers::Create() {
  return std::shared_ptr<JobWatchers>(new JobWatchers());
}

absl::StatusOr<std::unique_ptr<Subscription>> JobWatchers::Subscribe(
    const std::string& job_id,
    const std::function<absl::StatusOr<store::Job>()>& snapshot,
    JobCallback callback) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<store::Job> job = snapshot();
  if (!job.ok()) return job.status();
  JobEvent event;
  event.kind = JobEvent::Kind::kSnapshot;
  event.job = *std::move(job);
  event.job.checkpoint.clear();
  callback(event);
  const uint64_t id = next_id_++;
  by_job_[job_id].emplace(id, std::move(callback));
  return std::unique_ptr<Subscription>(
      new Subscription(shared_from_this(), job_id, id));
}

void JobWatchers::Publish(const JobEvent& event) {
  absl::MutexLock lock(&mu_);
  auto it = by_job_.find(event.job.id);
  if (it == by_job_.end()) return;
  for (auto& [id, callback] : it->second) callback(event);
}

bool JobWatchers::HasSubscribers(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  return by_job_.count(job_id) > 0;
}

int JobWatchers::SubscriberCount(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  auto it = by_job_.find(job_id);
  return it == by_job_.end() ? 0 : static_cast<int>(it->second.size());
}

void JobWatchers::Remove(const std::string& job_id, uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = by_job_.find(job_id);
  if (it == by_job_.end()) return;
  it->second.erase(id);
  if (it->second.empty()) by_job_.erase(it);
}

std::vector<std::string> JobWatchers::WatchedJobIds() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, callbacks] : by_job_) {
    if (!callbacks.empty()) ids.push_back(id);
  }
  return ids;
}

}  // namespace ptune::jobs
