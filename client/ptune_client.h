// PtuneClient: typed calls to a ptune server (PromptService and
// AdminService) over one gRPC channel, with the API key sent as
// `authorization: Bearer <key>` on every call and every gRPC status turned
// into an absl::Status (client/status_conversion.h).
//
// Thread-safety: every method is const and may be called from many threads at
// once (gRPC stubs and channels are thread-safe). Ownership: the client owns
// its stubs and shares the channel.
#ifndef PTUNE_CLIENT_PTUNE_CLIENT_H_
#define PTUNE_CLIENT_PTUNE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "ptune/v1/ptune.grpc.pb.h"

namespace ptune::client {

// Bytes per UploadDataset message.
inline constexpr int64_t kUploadChunkBytes = 1 << 20;

struct ClientOptions {
  // host:port of the server.
  std::string address = "localhost:8500";
  // Sent as `authorization: Bearer <api_key>`; empty = no header.
  std::string api_key;
  // TLS with the system roots, or with `ca_file` (PEM) when set.
  bool tls = false;
  std::string ca_file;
  // Deadline of each unary call.
  absl::Duration timeout = absl::Seconds(30);
  // Deadline of the streaming calls (UploadDataset, WatchJob), which last as
  // long as the upload or the training job.
  absl::Duration stream_timeout = absl::InfiniteDuration();
};

class PtuneClient {
 public:
  // Makes the channel (connection happens at the first call). INVALID_ARGUMENT
  // for an empty address, NOT_FOUND for an unreadable ca_file.
  static absl::StatusOr<std::unique_ptr<PtuneClient>> Create(
      const ClientOptions& options);
  // Over an existing channel (e.g. an in-process server's); `address`, `tls`
  // and `ca_file` of `options` are ignored.
  static std::unique_ptr<PtuneClient> CreateWithChannel(
      std::shared_ptr<grpc::Channel> channel, const ClientOptions& options);

  PtuneClient(const PtuneClient&) = delete;
  PtuneClient& operator=(const PtuneClient&) = delete;

  const ClientOptions& options() const { return options_; }

  // ---- grpc.health.v1 (no key needed): the serving status of `service`
  // ("" = the whole server), e.g. SERVING or NOT_SERVING while draining.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> Health(
      const std::string& service = "") const;

  // ---- PromptService
  absl::StatusOr<v1::TrainPromptResponse> TrainPrompt(
      const v1::TrainPromptRequest& request) const;
  // Streams the file at `path` in kUploadChunkBytes chunks after `header`.
  absl::StatusOr<v1::Dataset> UploadDataset(
      const v1::UploadDatasetRequest::Header& header,
      const std::string& path) const;
  absl::StatusOr<v1::Job> GetJob(const std::string& job_id) const;
  absl::StatusOr<v1::ListJobsResponse> ListJobs(
      const v1::ListJobsRequest& request) const;
  // Every page of ListJobs for `state` (UNSPECIFIED = all), in server order.
  absl::StatusOr<std::vector<v1::Job>> ListAllJobs(v1::JobState state) const;
  absl::StatusOr<v1::Job> CancelJob(const std::string& job_id) const;
  // Calls `on_job` for every streamed Job message and returns the last one
  // when the server ends the stream with OK. INTERNAL when an OK stream
  // carried no message.
  absl::StatusOr<v1::Job> WatchJob(
      const std::string& job_id,
      const std::function<void(const v1::Job&)>& on_job) const;
  absl::StatusOr<v1::ClassifyResponse> Classify(
      const v1::ClassifyRequest& request) const;
  absl::StatusOr<v1::TagEntitiesResponse> TagEntities(
      const v1::TagEntitiesRequest& request) const;
  absl::StatusOr<v1::EvaluatePromptResponse> EvaluatePrompt(
      const v1::EvaluatePromptRequest& request) const;
  absl::StatusOr<v1::ListPromptsResponse> ListPrompts(
      const v1::ListPromptsRequest& request) const;
  // Every page of ListPrompts.
  absl::StatusOr<std::vector<v1::Prompt>> ListAllPrompts() const;
  absl::StatusOr<v1::Prompt> GetPrompt(const std::string& name,
                                       int64_t version = 0) const;
  absl::StatusOr<v1::DeletePromptResponse> DeletePrompt(
      const std::string& name) const;
  absl::StatusOr<v1::ListDatasetsResponse> ListDatasets() const;
  absl::StatusOr<v1::DeleteDatasetResponse> DeleteDataset(
      const std::string& dataset_id) const;
  absl::StatusOr<v1::ExportPromptResponse> ExportPrompt(
      const std::string& name, int64_t version = 0) const;
  // ExportPrompt, then writes each file into `dir` (created if missing) and
  // returns the paths written. INVALID_ARGUMENT if the server names a file
  // that is not a plain file name (no path separators, not "." or "..").
  absl::StatusOr<std::vector<std::string>> ExportPromptToDir(
      const std::string& name, int64_t version, const std::string& dir) const;
  absl::StatusOr<v1::Prompt> ImportPrompt(
      const v1::ImportPromptRequest& request) const;
  // Reads adapter_config.json, adapter_model.safetensors (both required) and
  // ptune_export.json (if present) from `dir` and imports them as `name`.
  absl::StatusOr<v1::Prompt> ImportPromptFromDir(
      const std::string& name, const std::string& dir,
      const std::vector<std::string>& labels) const;

  // ---- AdminService (admin key)
  absl::StatusOr<v1::Tenant> CreateTenant(
      const v1::CreateTenantRequest& request) const;
  absl::StatusOr<v1::ListTenantsResponse> ListTenants() const;
  absl::StatusOr<v1::CreateApiKeyResponse> CreateApiKey(
      const std::string& tenant_id) const;
  absl::Status RevokeApiKey(const std::string& tenant_id,
                            const std::string& key_id) const;
  absl::StatusOr<v1::Tenant> SetQuota(const v1::SetQuotaRequest& request) const;

 private:
  PtuneClient(std::shared_ptr<grpc::Channel> channel,
              const ClientOptions& options);

  // Sets the bearer metadata and the deadline (`timeout` from now).
  void Prepare(grpc::ClientContext* context, absl::Duration timeout) const;
  // One unary call with the unary deadline, its status converted.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Unary(
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                   Response*),
      Stub* stub, const Request& request) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PromptService::Stub> prompts_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_PTUNE_CLIENT_H_
