// AdminServiceImpl: tenants, API keys and quotas (ptune.v1.AdminService);
// every call needs the admin key. Thin, like PromptServiceImpl.
//
// Thread-safety: thread-safe. Ownership: borrows everything in ServiceDeps.
#ifndef PTUNE_SERVER_SERVICE_ADMIN_SERVICE_H_
#define PTUNE_SERVER_SERVICE_ADMIN_SERVICE_H_

#include "ptune/v1/ptune.grpc.pb.h"
#include "server/service/call_context.h"

namespace ptune::service {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(ServiceDeps deps, store::Quotas default_quotas)
      : deps_(std::move(deps)), default_quotas_(default_quotas) {}

  grpc::ServerUnaryReactor* CreateTenant(grpc::CallbackServerContext* context,
                                         const v1::CreateTenantRequest* request,
                                         v1::Tenant* response) override;
  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext* context,
                                        const v1::ListTenantsRequest* request,
                                        v1::ListTenantsResponse* response) override;
  grpc::ServerUnaryReactor* CreateApiKey(grpc::CallbackServerContext* context,
                                         const v1::CreateApiKeyRequest* request,
                                         v1::CreateApiKeyResponse* response) override;
  grpc::ServerUnaryReactor* RevokeApiKey(grpc::CallbackServerContext* context,
                                         const v1::RevokeApiKeyRequest* request,
                                         v1::RevokeApiKeyResponse* response) override;
  grpc::ServerUnaryReactor* SetQuota(grpc::CallbackServerContext* context,
                                     const v1::SetQuotaRequest* request,
                                     v1::Tenant* response) override;

 private:
  // Runs `body` after the admin check and finishes the call.
  template <typename Body>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context,
                                   const char* method, Body body);

  const ServiceDeps deps_;
  const store::Quotas default_quotas_;
};

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_ADMIN_SERVICE_H_
