// GetJob, ListJobs, CancelJob and the WatchJob stream.
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/common/status_macros.h"
#include "server/service/proto_convert.h"
#include "server/service/prompt_service.h"

namespace ptune::service {

v1::Job PromptServiceImpl::JobView(const store::Job& job) const {
  std::string metrics_json;
  if (job.state == store::JobState::kSucceeded && job.prompt_version > 0) {
    absl::StatusOr<store::PromptVersion> version =
        deps_.store->GetPromptMetadata(job.tenant_id, job.prompt_name, job.prompt_version);
    if (version.ok()) metrics_json = version->metrics_json;
  }
  return JobToProto(job, metrics_json);
}

grpc::ServerUnaryReactor* PromptServiceImpl::GetJob(grpc::CallbackServerContext* context,
                                                    const v1::GetJobRequest* request,
                                                    v1::Job* response) {
  CallRecorder recorder(deps_.metrics, "GetJob");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    RETURN_IF_ERROR(ValidateId(request->job_id(), "job_id"));
    ASSIGN_OR_RETURN(store::Job job, deps_.jobs->GetJob(who.tenant_id, request->job_id()));
    *response = JobView(job);
    return absl::OkStatus();
  }();
  return FinishNow(context, recorder.Done(status));
}

grpc::ServerUnaryReactor* PromptServiceImpl::ListJobs(grpc::CallbackServerContext* context,
                                                      const v1::ListJobsRequest* request,
                                                      v1::ListJobsResponse* response) {
  CallRecorder recorder(deps_.metrics, "ListJobs");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    if (request->page_size() < 0 || request->page_size() > 1000) {
      return absl::InvalidArgumentError("page_size must be in 0..1000");
    }
    std::optional<store::JobState> state;
    if (request->state() != v1::JOB_STATE_UNSPECIFIED) {
      ASSIGN_OR_RETURN(state, JobStateFromProto(request->state()));
    }
    ASSIGN_OR_RETURN(store::JobPage page,
                     deps_.jobs->ListJobs(who.tenant_id, state, request->page_size(),
                                          request->page_token()));
    for (const store::Job& job : page.jobs) *response->add_jobs() = JobView(job);
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  }();
  return FinishNow(context, recorder.Done(status));
}

grpc::ServerUnaryReactor* PromptServiceImpl::CancelJob(grpc::CallbackServerContext* context,
                                                       const v1::CancelJobRequest* request,
                                                       v1::Job* response) {
  CallRecorder recorder(deps_.metrics, "CancelJob");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    RETURN_IF_ERROR(ValidateId(request->job_id(), "job_id"));
    ASSIGN_OR_RETURN(store::Job job, deps_.jobs->Cancel(who.tenant_id, request->job_id()));
    *response = JobView(job);
    return absl::OkStatus();
  }();
  return FinishNow(context, recorder.Done(status));
}

// Streams a job's snapshots: one write in flight at a time, later events
// queued (only the newest progress of a state is kept while a write is
// pending); ends after the write of a terminal state. gRPC operations are
// started outside the mutex, as reactions may run inline.
class WatchReactor : public grpc::ServerWriteReactor<v1::Job> {
 public:
  using ViewFn = std::function<v1::Job(const store::Job&)>;

  WatchReactor(PromptServiceImpl* service, ViewFn view, CallRecorder recorder)
      : service_(service), view_(std::move(view)), recorder_(std::move(recorder)) {}

  // Ends the stream (server shutdown).
  void End(const absl::Status& status) { FinishOnce(status); }

  // Keeps the subscription (its snapshot has been queued already) or
  // finishes with its error.
  void Start(absl::StatusOr<std::unique_ptr<jobs::Subscription>> subscription) {
    if (!subscription.ok()) {
      FinishOnce(subscription.status());
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      subscription_ = std::move(*subscription);
    }
    Pump();
  }

  // Subscription callback (runner threads, or the subscribing thread).
  void OnEvent(const jobs::JobEvent& event) {
    v1::Job job = view_(event.job);
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (!pending_.empty() && pending_.back().state() == job.state()) {
        pending_.back() = std::move(job);
      } else {
        pending_.push_back(std::move(job));
      }
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    bool terminal;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      terminal = IsTerminal(current_.state());
    }
    if (!ok) {
      FinishOnce(absl::CancelledError("the client went away"));
    } else if (terminal) {
      FinishOnce(absl::OkStatus());
    } else {
      Pump();
    }
  }

  void OnCancel() override {
    FinishOnce(absl::CancelledError("the client cancelled the watch"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&service_->watches_mu_);
      service_->watches_.erase(this);
    }
    std::unique_ptr<jobs::Subscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = std::move(subscription_);
    }
    subscription.reset();  // no callback runs after this returns
    delete this;
  }

 private:
  static bool IsTerminal(v1::JobState state) {
    return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
           state == v1::JOB_STATE_CANCELLED;
  }

  // Starts the next write when none is in flight.
  void Pump() {
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_ || pending_.empty()) return;
      current_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
    }
    StartWrite(&current_);
  }

  void FinishOnce(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(recorder_.Done(status));
  }

  PromptServiceImpl* const service_;
  const ViewFn view_;
  const CallRecorder recorder_;
  absl::Mutex mu_;
  std::unique_ptr<jobs::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::Job> pending_ ABSL_GUARDED_BY(mu_);
  v1::Job current_;  // written by Pump under writing_, read by gRPC
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

void PromptServiceImpl::EndWatches() {
  absl::MutexLock lock(&watches_mu_);
  watches_ended_ = true;
  for (WatchReactor* watch : watches_) {
    watch->End(absl::UnavailableError("the server is shutting down; watch again"));
  }
}

grpc::ServerWriteReactor<v1::Job>* PromptServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  auto* reactor =
      new WatchReactor(this, [this](const store::Job& job) { return JobView(job); },
                       CallRecorder(deps_.metrics, "WatchJob", /*stream=*/true));
  {
    absl::MutexLock lock(&watches_mu_);
    if (watches_ended_) {
      reactor->End(absl::UnavailableError("the server is shutting down"));
      return reactor;
    }
    watches_.insert(reactor);
  }
  absl::StatusOr<std::unique_ptr<jobs::Subscription>> subscription =
      [&]() -> absl::StatusOr<std::unique_ptr<jobs::Subscription>> {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    RETURN_IF_ERROR(ValidateId(request->job_id(), "job_id"));
    return deps_.jobs->Subscribe(who.tenant_id, request->job_id(),
                                 [reactor](const jobs::JobEvent& event) {
                                   reactor->OnEvent(event);
                                 });
  }();
  // The snapshot event may already have arrived (queued in the reactor).
  reactor->Start(std::move(subscription));
  return reactor;
}

}  // namespace ptune::service
