#include "server/jobs/job_runner.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/logging/log.h"

namespace ptune::jobs {
namespace {

constexpr char kUserCancelReason[] = "cancelled by the user";

void LogError(absl::string_view what, const absl::Status& status) {
  logging::Log(logging::LogLevel::kError, "jobs", what, {{"error", status.ToString()}});
}

// The part of a job whose change is a kStateChanged event.
std::string StateKey(const store::Job& job) {
  return absl::StrCat(store::JobStateName(job.state), "|", job.attempts, "|",
                      job.cancel_requested);
}

}  // namespace

// The JobContext of one running job. Progress and checkpoints are handed to
// the maintenance thread (the executor may call this on the device
// executor's thread, which must never wait on the database); cancelled()
// reads the runner's flags, a lost lease included.
class JobRunner::Context : public JobContext {
 public:
  Context(JobRunner* runner, std::shared_ptr<Running> running)
      : runner_(runner), running_(std::move(running)) {}

  absl::Status ReportProgress(const JobProgress& progress) override {
    return Hand(progress, std::nullopt);
  }

  absl::Status SaveCheckpoint(const JobProgress& progress, std::string checkpoint) override {
    return Hand(progress, std::move(checkpoint));
  }

  bool cancelled() const override {
    return running_->user_cancel.load() || running_->lease_lost.load() ||
           runner_->stopping_.load();
  }

 private:
  absl::Status Hand(const JobProgress& progress, std::optional<std::string> checkpoint) {
    if (running_->lease_lost.load()) {
      return absl::AbortedError("the job's lease was lost: another replica runs it now");
    }
    {
      absl::MutexLock lock(&running_->mu);
      running_->pending_progress = progress.ToJson();
      // A newer checkpoint supersedes one not yet written.
      if (checkpoint.has_value()) running_->pending_checkpoint = std::move(checkpoint);
    }
    absl::MutexLock lock(&runner_->mu_);
    ++runner_->flush_generation_;
    return absl::OkStatus();
  }

  JobRunner* const runner_;
  const std::shared_ptr<Running> running_;
};

JobRunner::JobRunner(JobQueue* queue, JobExecutor* executor,
                     const Options& options)
    : queue_(queue),
      store_(queue->store()),
      executor_(executor),
      options_(options),
      watchers_(JobWatchers::Create()) {
  const absl::Duration lease = queue->options().lease;
  // Every 2 s (at most a third of the lease): the heartbeat also brings a
  // cancel requested on another replica, which should act within seconds.
  if (options_.heartbeat_interval == absl::ZeroDuration()) {
    options_.heartbeat_interval = std::min(lease / 3, absl::Seconds(2));
  }
  if (options_.reclaim_interval == absl::ZeroDuration()) options_.reclaim_interval = lease / 2;
}

absl::StatusOr<std::unique_ptr<JobRunner>> JobRunner::Create(
    JobQueue* queue, JobExecutor* executor, const Options& options) {
  if (queue == nullptr || executor == nullptr) {
    return absl::InvalidArgumentError("JobRunner needs a queue and an executor");
  }
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "concurrency must be at least 1, got ", options.concurrency));
  }
  if (options.poll_interval <= absl::ZeroDuration() ||
      options.watch_poll_interval <= absl::ZeroDuration() ||
      options.heartbeat_interval < absl::ZeroDuration() ||
      options.reclaim_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the runner's intervals must be positive");
  }
  return std::unique_ptr<JobRunner>(new JobRunner(queue, executor, options));
}

JobRunner::~JobRunner() { Stop(); }

absl::Status JobRunner::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopped_) {
    return absl::FailedPreconditionError("JobRunner was already started");
  }
  started_ = true;
  for (int i = 0; i < options_.concurrency; ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
  threads_.emplace_back([this] { MaintenanceLoop(); });
  threads_.emplace_back([this] { ListenLoop(); });
  return absl::OkStatus();
}

void JobRunner::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true);
    ++wake_generation_;
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
}

void JobRunner::Wake() {
  absl::MutexLock lock(&mu_);
  ++wake_generation_;
}

void JobRunner::WorkerLoop() {
  while (!stopping_.load()) {
    uint64_t generation;
    {
      absl::MutexLock lock(&mu_);
      generation = wake_generation_;
    }
    absl::StatusOr<std::optional<store::Job>> claimed = queue_->Claim();
    if (!claimed.ok()) LogError("claim", claimed.status());
    if (claimed.ok() && claimed->has_value()) {
      RunOne(**std::move(claimed));
      continue;
    }
    absl::MutexLock lock(&mu_);
    auto woken = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return wake_generation_ != generation || stopping_.load();
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), options_.poll_interval);
  }
}

void JobRunner::RunOne(store::Job job) {
  auto running = std::make_shared<Running>(job);
  {
    absl::MutexLock lock(&mu_);
    running_[job.id] = running;
  }
  if (job.cancel_requested) running->user_cancel.store(true);
  Publish(JobEvent::Kind::kStateChanged, job);

  absl::StatusOr<JobOutcome> outcome;
  if (stopping_.load()) {
    outcome = absl::CancelledError("the runner is stopping");
  } else {
    Context ctx(this, running);
    try {
      outcome = executor_->Run(job, ctx);
    } catch (const std::exception& e) {
      outcome = absl::InternalError(absl::StrCat("the job executor threw: ", e.what()));
    } catch (...) {
      outcome = absl::InternalError("the job executor threw");
    }
  }
  FlushProgress(*running);  // the last progress, before the end is recorded
  if (running->lease_lost.load()) {
    // Another replica owns the job now; anything written here would be
    // refused (fencing), and must not be attempted.
    LogError(absl::StrCat("job ", job.id), absl::AbortedError("lease lost; run abandoned"));
  } else {
    absl::StatusOr<store::Job> ended = Conclude(job, outcome, running->user_cancel.load());
    if (ended.ok()) {
      if (options_.on_finished && store::IsTerminal(ended->state)) options_.on_finished(*ended);
      Publish(JobEvent::Kind::kStateChanged, *std::move(ended));
    } else {
      LogError(absl::StrCat("recording the end of job ", job.id), ended.status());
    }
  }
  {
    // Only now: until its end is published, watchers hear of this job from
    // this runner, not also from the poll for jobs running elsewhere.
    absl::MutexLock lock(&mu_);
    running_.erase(job.id);
  }
  Wake();  // a slot is free
}

void JobRunner::FlushProgress(Running& running) {
  absl::MutexLock write_lock(&running.write_mu);
  std::optional<std::string> progress, checkpoint;
  {
    absl::MutexLock lock(&running.mu);
    progress.swap(running.pending_progress);
    checkpoint.swap(running.pending_checkpoint);
  }
  if (!progress.has_value() || running.lease_lost.load()) return;
  const store::Job& job = running.job;
  absl::Status saved = store_->SaveJobProgress(job.tenant_id, job.id, store::JobLease::Of(job),
                                               *progress, checkpoint);
  if (absl::IsAborted(saved)) {
    running.lease_lost.store(true);
    return;
  }
  if (!saved.ok()) {
    LogError(absl::StrCat("saving the progress of job ", job.id), saved);
    return;
  }
  store::Job event = job;
  event.progress_json = *std::move(progress);
  Publish(JobEvent::Kind::kProgress, std::move(event));
}

std::vector<std::shared_ptr<JobRunner::Running>> JobRunner::RunningJobs() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Running>> running;
  for (const auto& [id, r] : running_) running.push_back(r);
  return running;
}

void JobRunner::RenewLeases() {
  for (const std::shared_ptr<Running>& r : RunningJobs()) {
    if (r->lease_lost.load()) continue;
    absl::StatusOr<bool> cancel = queue_->Renew(r->job);
    if (cancel.ok()) {
      if (*cancel) r->user_cancel.store(true);
    } else if (absl::IsAborted(cancel.status())) {
      r->lease_lost.store(true);
    } else {
      LogError(absl::StrCat("renewing the lease of job ", r->job.id), cancel.status());
    }
  }
}

void JobRunner::PollRemoteJobs() {
  std::vector<std::string> watched = watchers_->WatchedJobIds();
  std::map<std::string, Watched> to_poll;
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, Watched> still;
    for (const std::string& id : watched) {
      auto it = watched_.find(id);
      if (it == watched_.end()) continue;
      still.insert(*it);
      if (running_.count(id) == 0) to_poll.insert(*it);  // local runs publish as they go
    }
    watched_.swap(still);
  }
  for (const auto& [id, seen] : to_poll) {
    absl::StatusOr<store::Job> fresh = store_->GetJob(seen.tenant_id, id);
    if (!fresh.ok()) continue;
    // Claimed by this runner a moment ago (not yet registered as running
    // here): it publishes its own events.
    if (fresh->state == store::JobState::kRunning &&
        fresh->lease_owner == queue_->options().owner) {
      continue;
    }
    const bool state_changed = StateKey(*fresh) != seen.state_key;
    if (!state_changed && fresh->progress_json == seen.progress_json) continue;
    fresh->checkpoint.clear();
    Publish(state_changed ? JobEvent::Kind::kStateChanged : JobEvent::Kind::kProgress,
            *std::move(fresh));
  }
}

void JobRunner::ListenLoop() {
  bool logged = false;
  while (!stopping_.load()) {
    absl::StatusOr<std::vector<std::string>> changed =
        store_->WaitForJobChanges(absl::Milliseconds(500));
    if (absl::IsUnimplemented(changed.status())) return;  // polling only
    if (!changed.ok()) {
      if (!logged) LogError("waiting for job notifications", changed.status());
      logged = true;
      absl::SleepFor(absl::Seconds(1));
      continue;
    }
    logged = false;
    if (changed->empty()) continue;
    absl::MutexLock lock(&mu_);
    notified_ = true;
    ++flush_generation_;  // the maintenance thread
    ++wake_generation_;   // idle workers: a job may be claimable
  }
}

void JobRunner::MaintenanceLoop() {
  absl::Time next_heartbeat = absl::Now();
  absl::Time next_reclaim = absl::Now();  // at start: jobs a crash left behind
  absl::Time next_watch = absl::Now();
  while (true) {
    for (const std::shared_ptr<Running>& r : RunningJobs()) FlushProgress(*r);
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      if (notified_) {
        notified_ = false;
        next_heartbeat = next_watch = now;
      }
    }
    if (now >= next_heartbeat) {
      RenewLeases();
      next_heartbeat = now + options_.heartbeat_interval;
    }
    if (now >= next_reclaim) {
      absl::StatusOr<int64_t> reclaimed = queue_->Reclaim();
      if (!reclaimed.ok()) LogError("reclaiming expired job leases", reclaimed.status());
      if (reclaimed.ok() && *reclaimed > 0) Wake();
      next_reclaim = now + options_.reclaim_interval;
    }
    if (now >= next_watch) {
      PollRemoteJobs();
      next_watch = now + options_.watch_poll_interval;
    }
    absl::MutexLock lock(&mu_);
    if (stopped_ && running_.empty()) return;
    const uint64_t generation = flush_generation_;
    auto woken = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return flush_generation_ != generation || (stopped_ && running_.empty());
    };
    const absl::Time wake_at = std::min({next_heartbeat, next_reclaim, next_watch});
    mu_.AwaitWithDeadline(absl::Condition(&woken), wake_at);
  }
}

absl::StatusOr<store::Job> JobRunner::Conclude(
    const store::Job& job, const absl::StatusOr<JobOutcome>& outcome,
    bool user_cancel) {
  const absl::Time now = absl::Now();
  const store::JobLease lease = store::JobLease::Of(job);
  if (outcome.ok()) {
    // Finished work is kept even if a cancel arrived at the last moment.
    store::PromptVersion result;
    const bool publish_prompt = outcome->has_prompt && job.prompt_version > 0;
    if (publish_prompt) {
      result.state = store::PromptState::kReady;
      result.metrics_json = outcome->metrics_json;
      result.labels = outcome->labels;
      result.spec_json = outcome->spec_json;
      result.artifact_safetensors = outcome->artifact_safetensors;
      result.artifact_json = outcome->artifact_json;
    }
    absl::StatusOr<store::Job> done =
        store_->FinishJob(job.tenant_id, job.id, lease, store::JobState::kSucceeded, "", now,
                          publish_prompt ? &result : nullptr);
    if (done.ok() || !publish_prompt) return done;
    // The result could not be stored (e.g. the prompt was deleted meanwhile).
    return store_->FinishJob(
        job.tenant_id, job.id, lease, store::JobState::kFailed,
        absl::StrCat("storing the trained prompt failed: ",
                     done.status().message()),
        now);
  }
  if (user_cancel) {
    return store_->FinishJob(job.tenant_id, job.id, lease, store::JobState::kCancelled,
                             kUserCancelReason, now);
  }
  if (stopping_.load()) {
    // Stopped by a drain, not by its user: hand it back at once, so another
    // replica (or this one after its restart) resumes it from its checkpoint.
    return store_->ReleaseJob(job.tenant_id, job.id, lease);
  }
  return store_->FinishJob(job.tenant_id, job.id, lease, store::JobState::kFailed,
                           std::string(outcome.status().message()), now);
}

void JobRunner::Publish(JobEvent::Kind kind, store::Job job) {
  if (!watchers_->HasSubscribers(job.id)) return;
  {
    absl::MutexLock lock(&mu_);
    auto it = watched_.find(job.id);
    if (it != watched_.end()) it->second = {job.tenant_id, StateKey(job), job.progress_json};
  }
  JobEvent event;
  event.kind = kind;
  event.job = std::move(job);
  event.job.checkpoint.clear();
  watchers_->Publish(event);
}

absl::StatusOr<store::Job> JobRunner::Submit(const store::Job& job) {
  ASSIGN_OR_RETURN(store::Job submitted, queue_->Submit(job));
  Wake();
  return submitted;
}

absl::StatusOr<store::Job> JobRunner::SubmitTraining(
    const store::TrainingSubmission& submission) {
  ASSIGN_OR_RETURN(store::Job submitted, store_->SubmitTraining(submission));
  Wake();
  return submitted;
}

absl::StatusOr<store::Job> JobRunner::Cancel(const std::string& tenant_id,
                                             const std::string& job_id) {
  ASSIGN_OR_RETURN(store::Job job, queue_->Cancel(tenant_id, job_id));
  if (job.state == store::JobState::kRunning) {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(job_id);
    if (it != running_.end()) it->second->user_cancel.store(true);
  }
  Publish(JobEvent::Kind::kStateChanged, job);
  return job;
}

absl::StatusOr<store::Job> JobRunner::GetJob(const std::string& tenant_id,
                                             const std::string& job_id) {
  return store_->GetJob(tenant_id, job_id);
}

absl::StatusOr<store::JobPage> JobRunner::ListJobs(
    const std::string& tenant_id, std::optional<store::JobState> state,
    int page_size, const std::string& page_token) {
  return store_->ListJobs(tenant_id, state, page_size, page_token);
}

absl::StatusOr<std::unique_ptr<Subscription>> JobRunner::Subscribe(
    const std::string& tenant_id, const std::string& job_id,
    JobCallback callback) {
  return watchers_->Subscribe(
      job_id,
      [&]() -> absl::StatusOr<store::Job> {
        absl::StatusOr<store::Job> job = store_->GetJob(tenant_id, job_id);
        if (job.ok()) {
          // Jobs running on another replica are polled from this snapshot on.
          absl::MutexLock lock(&mu_);
          watched_[job_id] = {tenant_id, StateKey(*job), job->progress_json};
        }
        return job;
      },
      std::move(callback));
}

int JobRunner::running_jobs() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(running_.size());
}

}  // namespace ptune::jobs
