#include "server/service/admin_service.h"

#include "absl/strings/str_cat.h"
#include "server/auth/api_key.h"
#include "server/common/status_macros.h"
#include "server/service/proto_convert.h"

namespace ptune::service {

template <typename Body>
grpc::ServerUnaryReactor* AdminServiceImpl::Handle(grpc::CallbackServerContext* context,
                                                   const char* method, Body body) {
  CallRecorder recorder(deps_.metrics, method);
  absl::Status status = Authorize(deps_, *context, /*admin_only=*/true).status();
  if (status.ok()) status = body();
  return FinishNow(context, recorder.Done(status));
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateTenant(
    grpc::CallbackServerContext* context, const v1::CreateTenantRequest* request,
    v1::Tenant* response) {
  return Handle(context, "CreateTenant", [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateName(request->name(), "name"));
    store::Tenant tenant;
    tenant.name = request->name();
    ASSIGN_OR_RETURN(tenant.quotas, QuotasFromProto(request->quotas(), default_quotas_));
    absl::StatusOr<store::Tenant> created = deps_.store->CreateTenant(tenant);
    if (absl::IsAlreadyExists(created.status())) {
      return absl::AlreadyExistsError(
          absl::StrCat("a tenant named ", request->name(), " already exists"));
    }
    if (!created.ok()) return created.status();
    *response = TenantToProto(*created);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListTenants(
    grpc::CallbackServerContext* context, const v1::ListTenantsRequest* request,
    v1::ListTenantsResponse* response) {
  return Handle(context, "ListTenants", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<store::Tenant> tenants, deps_.store->ListTenants());
    for (const store::Tenant& tenant : tenants) {
      *response->add_tenants() = TenantToProto(tenant);
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateApiKey(
    grpc::CallbackServerContext* context, const v1::CreateApiKeyRequest* request,
    v1::CreateApiKeyResponse* response) {
  return Handle(context, "CreateApiKey", [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateId(request->tenant_id(), "tenant_id"));
    RETURN_IF_ERROR(deps_.store->GetTenant(request->tenant_id()).status());
    ASSIGN_OR_RETURN(std::string secret, auth::GenerateApiKey());
    store::ApiKey key;
    key.tenant_id = request->tenant_id();
    key.key_hash = auth::HashApiKey(secret);
    key.display_prefix = secret.substr(0, 8);
    ASSIGN_OR_RETURN(store::ApiKey created, deps_.store->CreateApiKey(key));
    response->set_key_id(created.id);
    response->set_api_key(secret);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeApiKey(
    grpc::CallbackServerContext* context, const v1::RevokeApiKeyRequest* request,
    v1::RevokeApiKeyResponse* response) {
  return Handle(context, "RevokeApiKey", [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateId(request->tenant_id(), "tenant_id"));
    RETURN_IF_ERROR(ValidateId(request->key_id(), "key_id"));
    return deps_.store->RevokeApiKey(request->tenant_id(), request->key_id());
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::SetQuota(grpc::CallbackServerContext* context,
                                                     const v1::SetQuotaRequest* request,
                                                     v1::Tenant* response) {
  return Handle(context, "SetQuota", [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateId(request->tenant_id(), "tenant_id"));
    ASSIGN_OR_RETURN(store::Tenant tenant, deps_.store->GetTenant(request->tenant_id()));
    ASSIGN_OR_RETURN(tenant.quotas, QuotasFromProto(request->quotas(), tenant.quotas));
    RETURN_IF_ERROR(deps_.store->UpdateTenant(tenant));
    *response = TenantToProto(tenant);
    return absl::OkStatus();
  });
}

}  // namespace ptune::service
