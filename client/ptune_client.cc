#include "client/ptune_client.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/local_files.h"
#include "client/status_conversion.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "server/common/status_macros.h"

namespace ptune::client {
namespace {

// The files of a PEFT adapter folder that ImportPromptFromDir sends.
constexpr const char* kRequiredAdapterFiles[] = {"adapter_config.json",
                                                 "adapter_model.safetensors"};
constexpr char kOptionalExportFile[] = "ptune_export.json";

bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PtuneClient>> PtuneClient::Create(
    const ClientOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("client: empty server address");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadLocalFile(options.ca_file));
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  // Exported adapters and classify answers of many texts exceed the 4 MiB
  // default.
  args.SetMaxReceiveMessageSize(64 << 20);
  return std::unique_ptr<PtuneClient>(new PtuneClient(
      grpc::CreateCustomChannel(options.address, credentials, args), options));
}

std::unique_ptr<PtuneClient> PtuneClient::CreateWithChannel(
    std::shared_ptr<grpc::Channel> channel, const ClientOptions& options) {
  return std::unique_ptr<PtuneClient>(
      new PtuneClient(std::move(channel), options));
}

PtuneClient::PtuneClient(std::shared_ptr<grpc::Channel> channel,
                         const ClientOptions& options)
    : options_(options),
      channel_(std::move(channel)),
      prompts_(v1::PromptService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> PtuneClient::Health(
    const std::string& service) const {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  ASSIGN_OR_RETURN(const grpc::health::v1::HealthCheckResponse response,
                   Unary(&grpc::health::v1::Health::Stub::Check, health_.get(), request));
  return response.status();
}

void PtuneClient::Prepare(grpc::ClientContext* context,
                          absl::Duration timeout) const {
  if (!options_.api_key.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options_.api_key));
  }
  if (timeout != absl::InfiniteDuration() && timeout > absl::ZeroDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> PtuneClient::Unary(
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    Stub* stub, const Request& request) const {
  grpc::ClientContext context;
  Prepare(&context, options_.timeout);
  Response response;
  RETURN_IF_ERROR(
      FromGrpcStatus((stub->*method)(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::TrainPromptResponse> PtuneClient::TrainPrompt(
    const v1::TrainPromptRequest& request) const {
  return Unary(&v1::PromptService::Stub::TrainPrompt, prompts_.get(), request);
}

absl::StatusOr<v1::Dataset> PtuneClient::UploadDataset(
    const v1::UploadDatasetRequest::Header& header,
    const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return LocalError(absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno))));
  }
  grpc::ClientContext context;
  Prepare(&context, options_.stream_timeout);
  v1::Dataset dataset;
  std::unique_ptr<grpc::ClientWriter<v1::UploadDatasetRequest>> writer =
      prompts_->UploadDataset(&context, &dataset);
  v1::UploadDatasetRequest message;
  *message.mutable_header() = header;
  std::string chunk(kUploadChunkBytes, '\0');
  bool first = true;
  bool read_error = false;
  while (true) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const std::streamsize got = in.gcount();
    if (in.bad()) {
      read_error = true;
      break;
    }
    if (got == 0 && !first) break;
    message.set_chunk(chunk.data(), static_cast<size_t>(got));
    // A failed write means the server ended the call; Finish says why.
    if (!writer->Write(message)) break;
    message.clear_header();
    first = false;
    if (got < static_cast<std::streamsize>(chunk.size())) break;
  }
  if (read_error) {
    context.TryCancel();
    writer->Finish();
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  writer->WritesDone();
  RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  return dataset;
}

absl::StatusOr<v1::Job> PtuneClient::GetJob(const std::string& job_id) const {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  return Unary(&v1::PromptService::Stub::GetJob, prompts_.get(), request);
}

absl::StatusOr<v1::ListJobsResponse> PtuneClient::ListJobs(
    const v1::ListJobsRequest& request) const {
  return Unary(&v1::PromptService::Stub::ListJobs, prompts_.get(), request);
}

absl::StatusOr<std::vector<v1::Job>> PtuneClient::ListAllJobs(
    v1::JobState state) const {
  std::vector<v1::Job> jobs;
  v1::ListJobsRequest request;
  request.set_state(state);
  do {
    ASSIGN_OR_RETURN(v1::ListJobsResponse page, ListJobs(request));
    for (v1::Job& job : *page.mutable_jobs()) jobs.push_back(std::move(job));
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return jobs;
}

absl::StatusOr<v1::Job> PtuneClient::CancelJob(
    const std::string& job_id) const {
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  return Unary(&v1::PromptService::Stub::CancelJob, prompts_.get(), request);
}

absl::StatusOr<v1::Job> PtuneClient::WatchJob(
    const std::string& job_id,
    const std::function<void(const v1::Job&)>& on_job) const {
  grpc::ClientContext context;
  Prepare(&context, options_.stream_timeout);
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  std::unique_ptr<grpc::ClientReader<v1::Job>> reader =
      prompts_->WatchJob(&context, request);
  v1::Job job;
  v1::Job last;
  bool any = false;
  while (reader->Read(&job)) {
    if (on_job) on_job(job);
    last.Swap(&job);
    any = true;
  }
  RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  if (!any) {
    return absl::InternalError(
        absl::StrCat("WatchJob ", job_id, ": stream ended without a job"));
  }
  return last;
}

absl::StatusOr<v1::EvaluatePromptResponse> PtuneClient::EvaluatePrompt(
    const v1::EvaluatePromptRequest& request) const {
  return Unary(&v1::PromptService::Stub::EvaluatePrompt, prompts_.get(), request);
}

absl::StatusOr<v1::ClassifyResponse> PtuneClient::Classify(
    const v1::ClassifyRequest& request) const {
  return Unary(&v1::PromptService::Stub::Classify, prompts_.get(), request);
}

absl::StatusOr<v1::TagEntitiesResponse> PtuneClient::TagEntities(
    const v1::TagEntitiesRequest& request) const {
  return Unary(&v1::PromptService::Stub::TagEntities, prompts_.get(), request);
}

absl::StatusOr<v1::ListPromptsResponse> PtuneClient::ListPrompts(
    const v1::ListPromptsRequest& request) const {
  return Unary(&v1::PromptService::Stub::ListPrompts, prompts_.get(), request);
}

absl::StatusOr<std::vector<v1::Prompt>> PtuneClient::ListAllPrompts() const {
  std::vector<v1::Prompt> prompts;
  v1::ListPromptsRequest request;
  do {
    ASSIGN_OR_RETURN(v1::ListPromptsResponse page, ListPrompts(request));
    for (v1::Prompt& p : *page.mutable_prompts()) {
      prompts.push_back(std::move(p));
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return prompts;
}

absl::StatusOr<v1::Prompt> PtuneClient::GetPrompt(const std::string& name,
                                                  int64_t version) const {
  v1::GetPromptRequest request;
  request.set_prompt_name(name);
  request.set_version(version);
  return Unary(&v1::PromptService::Stub::GetPrompt, prompts_.get(), request);
}

absl::StatusOr<v1::DeletePromptResponse> PtuneClient::DeletePrompt(
    const std::string& name) const {
  v1::DeletePromptRequest request;
  request.set_prompt_name(name);
  return Unary(&v1::PromptService::Stub::DeletePrompt, prompts_.get(), request);
}

absl::StatusOr<v1::ListDatasetsResponse> PtuneClient::ListDatasets() const {
  return Unary(&v1::PromptService::Stub::ListDatasets, prompts_.get(),
               v1::ListDatasetsRequest());
}

absl::StatusOr<v1::DeleteDatasetResponse> PtuneClient::DeleteDataset(
    const std::string& dataset_id) const {
  v1::DeleteDatasetRequest request;
  request.set_dataset_id(dataset_id);
  return Unary(&v1::PromptService::Stub::DeleteDataset, prompts_.get(), request);
}

absl::StatusOr<v1::ExportPromptResponse> PtuneClient::ExportPrompt(
    const std::string& name, int64_t version) const {
  v1::ExportPromptRequest request;
  request.set_prompt_name(name);
  request.set_version(version);
  return Unary(&v1::PromptService::Stub::ExportPrompt, prompts_.get(), request);
}

absl::StatusOr<std::vector<std::string>> PtuneClient::ExportPromptToDir(
    const std::string& name, int64_t version, const std::string& dir) const {
  ASSIGN_OR_RETURN(v1::ExportPromptResponse exported,
                   ExportPrompt(name, version));
  for (const v1::File& file : exported.files()) {
    if (!IsPlainFileName(file.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat("ExportPrompt: the server sent a file named \"",
                       file.name(), "\", which is not a plain file name"));
    }
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  std::vector<std::string> written;
  for (const v1::File& file : exported.files()) {
    const std::string path =
        (std::filesystem::path(dir) / file.name()).string();
    RETURN_IF_ERROR(WriteLocalFile(path, file.content()));
    written.push_back(path);
  }
  return written;
}

absl::StatusOr<v1::Prompt> PtuneClient::ImportPrompt(
    const v1::ImportPromptRequest& request) const {
  return Unary(&v1::PromptService::Stub::ImportPrompt, prompts_.get(), request);
}

absl::StatusOr<v1::Prompt> PtuneClient::ImportPromptFromDir(
    const std::string& name, const std::string& dir,
    const std::vector<std::string>& labels) const {
  v1::ImportPromptRequest request;
  request.set_prompt_name(name);
  for (const std::string& label : labels) request.add_labels(label);
  for (const char* file_name : kRequiredAdapterFiles) {
    v1::File* file = request.add_files();
    file->set_name(file_name);
    ASSIGN_OR_RETURN(
        *file->mutable_content(),
        ReadLocalFile((std::filesystem::path(dir) / file_name).string()));
  }
  const std::filesystem::path export_file =
      std::filesystem::path(dir) / kOptionalExportFile;
  if (std::filesystem::exists(export_file)) {
    v1::File* file = request.add_files();
    file->set_name(kOptionalExportFile);
    ASSIGN_OR_RETURN(*file->mutable_content(),
                     ReadLocalFile(export_file.string()));
  }
  return ImportPrompt(request);
}

absl::StatusOr<v1::Tenant> PtuneClient::CreateTenant(
    const v1::CreateTenantRequest& request) const {
  return Unary(&v1::AdminService::Stub::CreateTenant, admin_.get(), request);
}

absl::StatusOr<v1::ListTenantsResponse> PtuneClient::ListTenants() const {
  v1::ListTenantsRequest request;
  return Unary(&v1::AdminService::Stub::ListTenants, admin_.get(), request);
}

absl::StatusOr<v1::CreateApiKeyResponse> PtuneClient::CreateApiKey(
    const std::string& tenant_id) const {
  v1::CreateApiKeyRequest request;
  request.set_tenant_id(tenant_id);
  return Unary(&v1::AdminService::Stub::CreateApiKey, admin_.get(), request);
}

absl::Status PtuneClient::RevokeApiKey(const std::string& tenant_id,
                                       const std::string& key_id) const {
  v1::RevokeApiKeyRequest request;
  request.set_tenant_id(tenant_id);
  request.set_key_id(key_id);
  return Unary(&v1::AdminService::Stub::RevokeApiKey, admin_.get(), request)
      .status();
}

absl::StatusOr<v1::Tenant> PtuneClient::SetQuota(
    const v1::SetQuotaRequest& request) const {
  return Unary(&v1::AdminService::Stub::SetQuota, admin_.get(), request);
}

}  // namespace ptune::client
