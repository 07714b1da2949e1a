// What every RPC handler shares: the service's collaborators (ServiceDeps)
// and the per-call prologue and epilogue — authenticate the bearer key,
// apply the tenant's request rate limit, and record the call's code and
// latency when it ends (CallRecorder). Handlers stay thin: prologue →
// validate → delegate → map status → record.
#ifndef PTUNE_SERVER_SERVICE_CALL_CONTEXT_H_
#define PTUNE_SERVER_SERVICE_CALL_CONTEXT_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/authenticator.h"
#include "server/auth/concurrency_limiter.h"
#include "server/auth/rate_limiter.h"
#include "server/backbone/backbone.h"
#include "server/engine/engine.h"
#include "server/jobs/job_runner.h"
#include "server/metrics/service_metrics.h"
#include "server/service/validation.h"
#include "server/store/store.h"

namespace ptune::service {

// Borrowed pointers, all outliving the services (Server owns them).
struct ServiceDeps {
  store::Store* store = nullptr;
  engine::Engine* engine = nullptr;
  jobs::JobRunner* jobs = nullptr;
  const auth::Authenticator* authenticator = nullptr;
  auth::RateLimiter* rate_limiter = nullptr;
  metrics::ServiceMetrics* metrics = nullptr;  // may be null (tests)
  std::shared_ptr<const backbone::Backbone> backbone;
  RequestLimits limits;
};

// Authenticates the call's `authorization` metadata. Tenant keys pass the
// tenant's rate limit (RESOURCE_EXHAUSTED otherwise); `admin_only` calls
// need the admin key (PERMISSION_DENIED for a tenant key), tenant calls a
// tenant key (PERMISSION_DENIED for the admin key, which owns no objects).
absl::StatusOr<auth::Principal> Authorize(const ServiceDeps& deps,
                                          const grpc::ServerContextBase& context,
                                          bool admin_only);

// The call's deadline as absl::Time (InfiniteFuture when none).
absl::Time CallDeadline(const grpc::ServerContextBase& context);

// Records one call in the metrics when it ends: its code and duration (a
// `stream`'s in the stream histogram, apart from unary latency), and the
// reason of a refusal (common::Rejected). Construct at the start of a
// handler; call Done(status) exactly once.
class CallRecorder {
 public:
  CallRecorder(metrics::ServiceMetrics* metrics, std::string method, bool stream = false)
      : metrics_(metrics), method_(std::move(method)), stream_(stream), start_(absl::Now()) {}
  // Returns the gRPC status to finish the call with.
  grpc::Status Done(const absl::Status& status) const;

 private:
  metrics::ServiceMetrics* const metrics_;
  const std::string method_;
  const bool stream_;
  const absl::Time start_;
};

// A unary reactor whose OnCancel flips a flag the engine polls, so the work
// of a call whose client left is dropped before the forward.
class CancellableUnaryReactor : public grpc::ServerUnaryReactor {
 public:
  CancellableUnaryReactor()
      : cancelled_(std::make_shared<std::atomic<bool>>(false)) {}
  const std::shared_ptr<std::atomic<bool>>& cancelled() const { return cancelled_; }
  void OnCancel() override { cancelled_->store(true); }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

// A unary reactor that holds a ConcurrencyLimiter slot until the call is
// done, i.e. until the client has read the response (or left).
class SlotHoldingReactor : public grpc::ServerUnaryReactor {
 public:
  explicit SlotHoldingReactor(std::unique_ptr<auth::ConcurrencyLimiter::Slot> slot)
      : slot_(std::move(slot)) {}
  void OnDone() override { delete this; }

 private:
  std::unique_ptr<auth::ConcurrencyLimiter::Slot> slot_;
};

// Finishes a DefaultReactor-style unary call at once.
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_CALL_CONTEXT_H_
