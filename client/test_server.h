// Test-only: an in-process gRPC server with scripted PromptService and
// AdminService doubles that record what they receive, for the client and CLI
// tests. Not part of ptune_client. Thread-safe (handlers run on gRPC
// threads; every recorded field is guarded by `mu`).
#ifndef PTUNE_CLIENT_TEST_SERVER_H_
#define PTUNE_CLIENT_TEST_SERVER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/ptune_client.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "ptune/v1/ptune.grpc.pb.h"

namespace ptune::client::testing {

// What the doubles saw and what they answer. Tests set the answers before
// the call and read the records after it.
struct FakeState {
  absl::Mutex mu;
  // Records.
  std::vector<std::string> methods;         // RPC names, in call order.
  std::vector<std::string> authorizations;  // "authorization" metadata.
  std::vector<absl::Duration> deadlines;    // deadline - arrival time.
  std::vector<v1::UploadDatasetRequest::Header> upload_headers;
  std::vector<int64_t> upload_chunk_sizes;
  int upload_messages_with_header = 0;
  std::string uploaded_bytes;
  v1::TrainPromptRequest train_request;
  v1::ClassifyRequest classify_request;
  v1::TagEntitiesRequest tag_request;
  v1::EvaluatePromptRequest evaluate_request;
  v1::ListJobsRequest list_jobs_request;
  v1::ImportPromptRequest import_request;
  v1::CreateTenantRequest create_tenant_request;
  v1::SetQuotaRequest set_quota_request;
  std::string last_id;  // job id / prompt name / tenant id / key id asked.
  int64_t last_version = 0;
  // Answers.
  grpc::Status status = grpc::Status::OK;  // Returned by every RPC if not OK.
  std::vector<v1::Job> jobs;               // ListJobs pages over these.
  int jobs_page_size = 2;
  std::vector<v1::Job> watch_stream;          // WatchJob writes these...
  grpc::Status watch_end = grpc::Status::OK;  // ...then ends with this.
  v1::ClassifyResponse classify_response;
  v1::TagEntitiesResponse tag_response;
  v1::EvaluatePromptResponse evaluate_response;
  v1::ExportPromptResponse export_response;
  v1::Prompt prompt;
  std::vector<v1::Prompt> prompts;
  std::vector<v1::Dataset> datasets;  // ListDatasets answers these
  v1::Tenant tenant;
};

class FakePromptService final : public v1::PromptService::Service {
 public:
  explicit FakePromptService(FakeState* state) : s_(state) {}

  grpc::Status TrainPrompt(grpc::ServerContext* context,
                           const v1::TrainPromptRequest* request,
                           v1::TrainPromptResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "TrainPrompt");
    s_->train_request = *request;
    response->mutable_job()->set_id("job-1");
    response->mutable_job()->set_prompt_name(request->prompt_name());
    response->mutable_job()->set_prompt_version(1);
    response->mutable_job()->set_state(v1::JOB_STATE_QUEUED);
    return s_->status;
  }

  grpc::Status UploadDataset(
      grpc::ServerContext* context,
      grpc::ServerReader<v1::UploadDatasetRequest>* reader,
      v1::Dataset* response) override {
    v1::UploadDatasetRequest message;
    absl::MutexLock lock(&s_->mu);
    Record(context, "UploadDataset");
    while (reader->Read(&message)) {
      if (message.has_header()) {
        ++s_->upload_messages_with_header;
        s_->upload_headers.push_back(message.header());
      }
      s_->upload_chunk_sizes.push_back(
          static_cast<int64_t>(message.chunk().size()));
      s_->uploaded_bytes += message.chunk();
    }
    response->set_id("ds-1");
    if (!s_->upload_headers.empty()) {
      response->set_name(s_->upload_headers[0].name());
    }
    response->set_size_bytes(static_cast<int64_t>(s_->uploaded_bytes.size()));
    return s_->status;
  }

  grpc::Status GetJob(grpc::ServerContext* context,
                      const v1::GetJobRequest* request,
                      v1::Job* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "GetJob");
    s_->last_id = request->job_id();
    response->set_id(request->job_id());
    response->set_state(v1::JOB_STATE_RUNNING);
    return s_->status;
  }

  grpc::Status ListJobs(grpc::ServerContext* context,
                        const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "ListJobs");
    s_->list_jobs_request = *request;
    const size_t start =
        request->page_token().empty() ? 0 : std::stoul(request->page_token());
    const size_t end = std::min(
        s_->jobs.size(), start + static_cast<size_t>(s_->jobs_page_size));
    for (size_t i = start; i < end; ++i) *response->add_jobs() = s_->jobs[i];
    if (end < s_->jobs.size())
      response->set_next_page_token(std::to_string(end));
    return s_->status;
  }

  grpc::Status CancelJob(grpc::ServerContext* context,
                         const v1::CancelJobRequest* request,
                         v1::Job* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "CancelJob");
    s_->last_id = request->job_id();
    response->set_id(request->job_id());
    response->set_state(v1::JOB_STATE_CANCELLED);
    return s_->status;
  }

  grpc::Status WatchJob(grpc::ServerContext* context,
                        const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::Job>* writer) override {
    std::vector<v1::Job> stream;
    grpc::Status end;
    {
      absl::MutexLock lock(&s_->mu);
      Record(context, "WatchJob");
      s_->last_id = request->job_id();
      if (!s_->status.ok()) return s_->status;
      stream = s_->watch_stream;
      end = s_->watch_end;
    }
    for (const v1::Job& job : stream) {
      if (!writer->Write(job)) break;
    }
    return end;
  }

  grpc::Status Classify(grpc::ServerContext* context,
                        const v1::ClassifyRequest* request,
                        v1::ClassifyResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "Classify");
    s_->classify_request = *request;
    *response = s_->classify_response;
    return s_->status;
  }

  grpc::Status TagEntities(grpc::ServerContext* context,
                           const v1::TagEntitiesRequest* request,
                           v1::TagEntitiesResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "TagEntities");
    s_->tag_request = *request;
    *response = s_->tag_response;
    return s_->status;
  }

  grpc::Status ListDatasets(grpc::ServerContext* context,
                            const v1::ListDatasetsRequest* request,
                            v1::ListDatasetsResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "ListDatasets");
    for (const v1::Dataset& dataset : s_->datasets) *response->add_datasets() = dataset;
    return s_->status;
  }

  grpc::Status EvaluatePrompt(grpc::ServerContext* context,
                              const v1::EvaluatePromptRequest* request,
                              v1::EvaluatePromptResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "EvaluatePrompt");
    s_->evaluate_request = *request;
    *response = s_->evaluate_response;
    return s_->status;
  }

  grpc::Status ListPrompts(grpc::ServerContext* context,
                           const v1::ListPromptsRequest* request,
                           v1::ListPromptsResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "ListPrompts");
    // One prompt per page, to exercise paging.
    const size_t index =
        request->page_token().empty() ? 0 : std::stoul(request->page_token());
    if (index < s_->prompts.size())
      *response->add_prompts() = s_->prompts[index];
    if (index + 1 < s_->prompts.size()) {
      response->set_next_page_token(std::to_string(index + 1));
    }
    return s_->status;
  }

  grpc::Status GetPrompt(grpc::ServerContext* context,
                         const v1::GetPromptRequest* request,
                         v1::Prompt* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "GetPrompt");
    s_->last_id = request->prompt_name();
    s_->last_version = request->version();
    *response = s_->prompt;
    return s_->status;
  }

  grpc::Status DeletePrompt(grpc::ServerContext* context,
                            const v1::DeletePromptRequest* request,
                            v1::DeletePromptResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "DeletePrompt");
    s_->last_id = request->prompt_name();
    response->set_deleted_versions(3);
    return s_->status;
  }

  grpc::Status ExportPrompt(grpc::ServerContext* context,
                            const v1::ExportPromptRequest* request,
                            v1::ExportPromptResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "ExportPrompt");
    s_->last_id = request->prompt_name();
    s_->last_version = request->version();
    *response = s_->export_response;
    return s_->status;
  }

  grpc::Status ImportPrompt(grpc::ServerContext* context,
                            const v1::ImportPromptRequest* request,
                            v1::Prompt* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "ImportPrompt");
    s_->import_request = *request;
    response->set_name(request->prompt_name());
    response->set_version(2);
    return s_->status;
  }

 private:
  void Record(grpc::ServerContext* context, const std::string& method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu) {
    s_->methods.push_back(method);
    auto it = context->client_metadata().find("authorization");
    s_->authorizations.push_back(
        it == context->client_metadata().end()
            ? "<none>"
            : std::string(it->second.data(), it->second.size()));
    s_->deadlines.push_back(absl::FromChrono(context->deadline()) -
                            absl::Now());
  }

  FakeState* s_;
};

class FakeAdminService final : public v1::AdminService::Service {
 public:
  explicit FakeAdminService(FakeState* state) : s_(state) {}

  grpc::Status CreateTenant(grpc::ServerContext* context,
                            const v1::CreateTenantRequest* request,
                            v1::Tenant* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "CreateTenant");
    s_->create_tenant_request = *request;
    response->set_id("t-1");
    response->set_name(request->name());
    *response->mutable_quotas() = request->quotas();
    return s_->status;
  }
  grpc::Status ListTenants(grpc::ServerContext* context,
                           const v1::ListTenantsRequest*,
                           v1::ListTenantsResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "ListTenants");
    *response->add_tenants() = s_->tenant;
    return s_->status;
  }
  grpc::Status CreateApiKey(grpc::ServerContext* context,
                            const v1::CreateApiKeyRequest* request,
                            v1::CreateApiKeyResponse* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "CreateApiKey");
    s_->last_id = request->tenant_id();
    response->set_key_id("k-1");
    response->set_api_key("secret-1");
    return s_->status;
  }
  grpc::Status RevokeApiKey(grpc::ServerContext* context,
                            const v1::RevokeApiKeyRequest* request,
                            v1::RevokeApiKeyResponse*) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "RevokeApiKey");
    s_->last_id = request->tenant_id() + "/" + request->key_id();
    return s_->status;
  }
  grpc::Status SetQuota(grpc::ServerContext* context,
                        const v1::SetQuotaRequest* request,
                        v1::Tenant* response) override {
    absl::MutexLock lock(&s_->mu);
    Record(context, "SetQuota");
    s_->set_quota_request = *request;
    response->set_id(request->tenant_id());
    *response->mutable_quotas() = request->quotas();
    return s_->status;
  }

 private:
  void Record(grpc::ServerContext* context, const std::string& method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu) {
    s_->methods.push_back(method);
    auto it = context->client_metadata().find("authorization");
    s_->authorizations.push_back(
        it == context->client_metadata().end()
            ? "<none>"
            : std::string(it->second.data(), it->second.size()));
    s_->deadlines.push_back(absl::FromChrono(context->deadline()) -
                            absl::Now());
  }

  FakeState* s_;
};

// Both doubles on one in-process server; Client() talks to it.
class TestServer {
 public:
  TestServer() : prompts_(&state), admin_(&state) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&prompts_);
    builder.RegisterService(&admin_);
    builder.SetMaxReceiveMessageSize(64 << 20);
    server_ = builder.BuildAndStart();
  }
  ~TestServer() { server_->Shutdown(); }

  std::unique_ptr<PtuneClient> Client(const ClientOptions& options = {}) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    return PtuneClient::CreateWithChannel(server_->InProcessChannel(args),
                                          options);
  }

  FakeState state;

 private:
  FakePromptService prompts_;
  FakeAdminService admin_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace ptune::client::testing

#endif  // PTUNE_CLIENT_TEST_SERVER_H_
