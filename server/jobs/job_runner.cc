#include "server/jobs/job_runner.h"

#include <exception>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"

namespace ptune::jobs {
namespace {

constexpr char kUserCancelReason[] = "cancelled by the user";

void LogError(absl::string_view what, const absl::Status& status) {
  std::cerr << "ptune jobs: " << what << ": " << status << std::endl;
}

}  // namespace

// The JobContext of one running job: writes progress and checkpoints to the
// store and publishes them; cancelled() reads the runner's flags.
class JobRunner::Context : public JobContext {
 public:
  Context(JobRunner* runner, const store::Job& job,
          std::shared_ptr<Running> running)
      : runner_(runner), job_(job), running_(std::move(running)) {
    job_.checkpoint.clear();  // events never carry it
  }

  absl::Status ReportProgress(const JobProgress& progress) override {
    return Save(progress, std::nullopt);
  }

  absl::Status SaveCheckpoint(const JobProgress& progress,
                              std::string checkpoint) override {
    return Save(progress, std::move(checkpoint));
  }

  bool cancelled() const override {
    return running_->user_cancel.load() || runner_->stopping_.load();
  }

 private:
  absl::Status Save(const JobProgress& progress,
                    const std::optional<std::string>& checkpoint) {
    const std::string json = progress.ToJson();
    RETURN_IF_ERROR(runner_->store_->SaveJobProgress(job_.tenant_id, job_.id,
                                                     json, checkpoint));
    job_.progress_json = json;
    runner_->Publish(JobEvent::Kind::kProgress, job_);
    return absl::OkStatus();
  }

  JobRunner* const runner_;
  store::Job job_;
  const std::shared_ptr<Running> running_;
};

JobRunner::JobRunner(JobQueue* queue, JobExecutor* executor,
                     const Options& options)
    : queue_(queue),
      store_(queue->store()),
      executor_(executor),
      options_(options),
      watchers_(JobWatchers::Create()) {}

absl::StatusOr<std::unique_ptr<JobRunner>> JobRunner::Create(
    JobQueue* queue, JobExecutor* executor, const Options& options) {
  if (queue == nullptr || executor == nullptr) {
    return absl::InvalidArgumentError("JobRunner needs a queue and an executor");
  }
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "concurrency must be at least 1, got ", options.concurrency));
  }
  if (options.poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("poll_interval must be positive");
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
  auto running = std::make_shared<Running>();
  {
    absl::MutexLock lock(&mu_);
    running_[job.id] = running;
  }
  // A cancel that reached the store between the claim and the registration
  // above found no Running to flag: read it back.
  absl::StatusOr<store::Job> fresh = store_->GetJob(job.tenant_id, job.id);
  if (fresh.ok() && fresh->cancel_requested) running->user_cancel.store(true);
  Publish(JobEvent::Kind::kStateChanged, job);

  absl::StatusOr<JobOutcome> outcome;
  if (stopping_.load()) {
    outcome = absl::CancelledError("the runner is stopping");
  } else {
    Context ctx(this, job, running);
    try {
      outcome = executor_->Run(job, ctx);
    } catch (const std::exception& e) {
      outcome = absl::InternalError(
          absl::StrCat("the job executor threw: ", e.what()));
    } catch (...) {
      outcome = absl::InternalError("the job executor threw");
    }
  }
  {
    absl::MutexLock lock(&mu_);
    running_.erase(job.id);
  }
  absl::StatusOr<store::Job> ended =
      Conclude(job, outcome, running->user_cancel.load());
  if (ended.ok()) {
    Publish(JobEvent::Kind::kStateChanged, *std::move(ended));
  } else {
    LogError(absl::StrCat("recording the end of job ", job.id), ended.status());
  }
  Wake();  // a slot is free
}

absl::StatusOr<store::Job> JobRunner::Conclude(
    const store::Job& job, const absl::StatusOr<JobOutcome>& outcome,
    bool user_cancel) {
  const absl::Time now = absl::Now();
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
        store_->FinishJob(job.tenant_id, job.id, store::JobState::kSucceeded,
                          "", now, publish_prompt ? &result : nullptr);
    if (done.ok() || !publish_prompt) return done;
    // The result could not be stored (e.g. the prompt was deleted meanwhile).
    return store_->FinishJob(
        job.tenant_id, job.id, store::JobState::kFailed,
        absl::StrCat("storing the trained prompt failed: ",
                     done.status().message()),
        now);
  }
  if (user_cancel) {
    return store_->FinishJob(job.tenant_id, job.id,
                             store::JobState::kCancelled, kUserCancelReason,
                             now);
  }
  if (stopping_.load()) {
    // Stopped by shutdown, not by its user: resume after the restart.
    return store_->RequeueJob(job.tenant_id, job.id, /*count_attempt=*/false);
  }
  return store_->FinishJob(job.tenant_id, job.id, store::JobState::kFailed,
                           std::string(outcome.status().message()), now);
}

void JobRunner::Publish(JobEvent::Kind kind, store::Job job) {
  if (!watchers_->HasSubscribers(job.id)) return;
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
      job_id, [&] { return store_->GetJob(tenant_id, job_id); },
      std::move(callback));
}

int JobRunner::running_jobs() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(running_.size());
}

}  // namespace ptune::jobs
