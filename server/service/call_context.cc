#include "server/service/call_context.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "server/common/rejection.h"
#include "server/common/status_macros.h"
#include "server/service/grpc_status.h"

namespace ptune::service {

absl::StatusOr<auth::Principal> Authorize(const ServiceDeps& deps,
                                          const grpc::ServerContextBase& context,
                                          bool admin_only) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  const std::string header =
      it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
  ASSIGN_OR_RETURN(auth::Principal principal, deps.authenticator->Authenticate(header));
  if (admin_only) {
    if (!principal.is_admin) {
      return absl::PermissionDeniedError("this call needs the admin key");
    }
    return principal;
  }
  if (principal.is_admin) {
    return absl::PermissionDeniedError(
        "the admin key owns no prompts, datasets or jobs; use a tenant's key");
  }
  ASSIGN_OR_RETURN(store::Tenant tenant, deps.store->GetTenant(principal.tenant_id));
  if (deps.metrics != nullptr) deps.metrics->RecordTenantRequest(tenant.id);
  RETURN_IF_ERROR(deps.rate_limiter->Admit(tenant.id, tenant.quotas.requests_per_second,
                                           static_cast<double>(tenant.quotas.burst)));
  return principal;
}

absl::Time CallDeadline(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

grpc::Status CallRecorder::Done(const absl::Status& status) const {
  const grpc::Status out = ClientStatus(status, method_);
  if (metrics_ != nullptr) {
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
    if (const std::optional<std::string> reason = common::RejectionReason(status)) {
      metrics_->RecordRejection(*reason);
    }
    if (stream_) {
      metrics_->RecordStream(method_, status.code(), seconds);
    } else {
      metrics_->RecordRequest(method_, status.code(), seconds);
    }
  }
  return out;
}

}  // namespace ptune::service
