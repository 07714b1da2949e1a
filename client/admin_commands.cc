// ptune admin create-tenant | list-tenants | create-key | revoke-key |
// set-quota (admin key).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/formatters.h"
#include "server/common/status_macros.h"

namespace ptune::client {
namespace {

// Quotas from --max_prompts, --max_concurrent_jobs, --max_stored_bytes,
// --requests_per_second and --burst; an absent flag is 0 (the server default
// for a new tenant, the current value for SetQuota).
absl::StatusOr<v1::Quotas> QuotasFromFlags(const ParsedArgs& args) {
  ASSIGN_OR_RETURN(int64_t max_prompts, args.GetInt("max_prompts", 0));
  ASSIGN_OR_RETURN(int64_t max_jobs, args.GetInt("max_concurrent_jobs", 0));
  ASSIGN_OR_RETURN(int64_t max_bytes, args.GetInt("max_stored_bytes", 0));
  ASSIGN_OR_RETURN(double rps, args.GetDouble("requests_per_second", 0));
  ASSIGN_OR_RETURN(int64_t burst, args.GetInt("burst", 0));
  for (int64_t value : {max_prompts, max_jobs, burst}) {
    if (value < 0 || value > INT32_MAX) {
      return absl::InvalidArgumentError(
          "--max_prompts, --max_concurrent_jobs and --burst must be "
          "0..2147483647");
    }
  }
  if (max_bytes < 0 || !(rps >= 0)) {
    return absl::InvalidArgumentError(
        "--max_stored_bytes and --requests_per_second must be >= 0");
  }
  v1::Quotas quotas;
  quotas.set_max_prompts(static_cast<int32_t>(max_prompts));
  quotas.set_max_concurrent_jobs(static_cast<int32_t>(max_jobs));
  quotas.set_max_stored_bytes(max_bytes);
  quotas.set_requests_per_second(rps);
  quotas.set_burst(static_cast<int32_t>(burst));
  return quotas;
}

}  // namespace

absl::Status RunAdminCreateTenant(const ParsedArgs& args,
                                  const CommandContext& context) {
  v1::CreateTenantRequest request;
  ASSIGN_OR_RETURN(*request.mutable_name(), OnePositional(args, "tenant name"));
  ASSIGN_OR_RETURN(*request.mutable_quotas(), QuotasFromFlags(args));
  ASSIGN_OR_RETURN(v1::Tenant tenant, context.client->CreateTenant(request));
  *context.out << (context.json ? ToJson(tenant) : FormatTenant(tenant));
  return absl::OkStatus();
}

absl::Status RunAdminListTenants(const ParsedArgs& args,
                                 const CommandContext& context) {
  if (!args.positional.empty()) {
    return absl::InvalidArgumentError("admin list-tenants takes no arguments");
  }
  ASSIGN_OR_RETURN(v1::ListTenantsResponse response,
                   context.client->ListTenants());
  if (context.json) {
    *context.out << ToJson(response);
  } else {
    *context.out << FormatTenantTable(
        {response.tenants().begin(), response.tenants().end()});
  }
  return absl::OkStatus();
}

absl::Status RunAdminCreateKey(const ParsedArgs& args,
                               const CommandContext& context) {
  ASSIGN_OR_RETURN(std::string tenant_id, OnePositional(args, "tenant id"));
  ASSIGN_OR_RETURN(v1::CreateApiKeyResponse key,
                   context.client->CreateApiKey(tenant_id));
  *context.out << (context.json ? ToJson(key) : FormatApiKey(key));
  return absl::OkStatus();
}

absl::Status RunAdminRevokeKey(const ParsedArgs& args,
                               const CommandContext& context) {
  if (args.positional.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected TENANT_ID KEY_ID, got ", args.positional.size(),
                     " arguments"));
  }
  const std::string& key_id = args.positional[1];
  RETURN_IF_ERROR(context.client->RevokeApiKey(args.positional[0], key_id));
  if (context.json) {
    *context.out << ToJson(v1::RevokeApiKeyResponse());
  } else {
    *context.out << "revoked key " << key_id << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunAdminSetQuota(const ParsedArgs& args,
                              const CommandContext& context) {
  v1::SetQuotaRequest request;
  ASSIGN_OR_RETURN(*request.mutable_tenant_id(),
                   OnePositional(args, "tenant id"));
  // Flags not given are sent as 0: the server keeps those quotas.
  ASSIGN_OR_RETURN(*request.mutable_quotas(), QuotasFromFlags(args));
  ASSIGN_OR_RETURN(v1::Tenant tenant, context.client->SetQuota(request));
  *context.out << (context.json ? ToJson(tenant) : FormatTenant(tenant));
  return absl::OkStatus();
}

absl::Status RunHealth(const ParsedArgs& args, const CommandContext& context) {
  ASSIGN_OR_RETURN(const auto status, context.client->Health(args.GetString("service")));
  const std::string name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(status);
  *context.out << name << "\n";
  if (status != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat("the server is ", name));
  }
  return absl::OkStatus();
}

}  // namespace ptune::client
