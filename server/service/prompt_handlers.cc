// ListPrompts, GetPrompt, DeletePrompt, ExportPrompt, ImportPrompt.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/auth/quotas.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"
#include "server/datasets/label_set.h"
#include "server/prompts/peft_format.h"
#include "server/service/proto_convert.h"
#include "server/service/prompt_service.h"
#include "server/service/training_job_executor.h"

namespace ptune::service {
namespace {

// Files of an adapter folder that Export writes and Import reads.
constexpr const char* kAdapterFiles[] = {"adapter_config.json",
                                         "adapter_model.safetensors",
                                         "ptune_export.json"};

}  // namespace

absl::StatusOr<store::PromptSummary> PromptServiceImpl::FindPrompt(const std::string& tenant,
                                                                   const std::string& name) {
  absl::StatusOr<store::PromptSummary> summary = deps_.store->GetPromptSummary(tenant, name);
  if (absl::IsNotFound(summary.status())) {
    return absl::NotFoundError(absl::StrCat("prompt ", name, " not found"));
  }
  return summary;
}

absl::Status PromptServiceImpl::CheckPromptQuotaFor(const std::string& tenant,
                                                    const std::string& name,
                                                    std::optional<datasets::Task> task) {
  absl::StatusOr<store::PromptSummary> existing = FindPrompt(tenant, name);
  if (existing.ok()) {
    // Versions of one name share a task: callers resolve a name without a
    // version, and a classify client must never get a tagger.
    for (const store::PromptVersion& v : existing->versions) {
      if (task.has_value() && v.task != datasets::TaskName(*task)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt ", name, " is a ", v.task, " prompt; a new version must have the "
            "same task (delete the prompt or choose another name)"));
      }
    }
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  ASSIGN_OR_RETURN(store::Tenant owner, deps_.store->GetTenant(tenant));
  ASSIGN_OR_RETURN(int64_t count, deps_.store->CountPrompts(tenant));
  return auth::CheckPromptQuota(count, owner.quotas.max_prompts);
}

grpc::ServerUnaryReactor* PromptServiceImpl::ListPrompts(
    grpc::CallbackServerContext* context, const v1::ListPromptsRequest* request,
    v1::ListPromptsResponse* response) {
  CallRecorder recorder(deps_.metrics, "ListPrompts");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    if (request->page_size() < 0 || request->page_size() > 1000) {
      return absl::InvalidArgumentError("page_size must be in 0..1000");
    }
    const size_t page_size = request->page_size() == 0 ? 100 : request->page_size();
    ASSIGN_OR_RETURN(std::vector<store::PromptSummary> all,
                     deps_.store->ListPrompts(who.tenant_id));
    // Names ascending; the token is the last name of the previous page.
    for (const store::PromptSummary& summary : all) {
      if (!request->page_token().empty() && summary.name <= request->page_token()) continue;
      if (static_cast<size_t>(response->prompts_size()) == page_size) {
        response->set_next_page_token(response->prompts().rbegin()->name());
        break;
      }
      const int shown = summary.latest_ready_version > 0 ? summary.latest_ready_version
                                                         : summary.latest_version;
      for (const store::PromptVersion& version : summary.versions) {
        if (version.version == shown) *response->add_prompts() = PromptToProto(version);
      }
    }
    return absl::OkStatus();
  }();
  return FinishNow(context, recorder.Done(status));
}

absl::Status PromptServiceImpl::DoGetPrompt(const std::string& tenant,
                                            const v1::GetPromptRequest& request,
                                            v1::Prompt* response) {
  RETURN_IF_ERROR(ValidateName(request.prompt_name(), "prompt_name"));
  ASSIGN_OR_RETURN(const std::optional<int> requested, ParseVersion(request.version()));
  ASSIGN_OR_RETURN(const store::PromptSummary summary,
                   FindPrompt(tenant, request.prompt_name()));
  int wanted = requested.value_or(0);
  if (wanted == 0) {
    wanted = summary.latest_ready_version > 0 ? summary.latest_ready_version
                                              : summary.latest_version;
  }
  bool found = false;
  for (const store::PromptVersion& version : summary.versions) {
    if (version.version == wanted) {
      *response = PromptToProto(version);
      found = true;
    }
  }
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("prompt ", request.prompt_name(), " has no version ", wanted));
  }
  for (const store::PromptVersion& version : summary.versions) {
    *response->add_versions() = PromptVersionToProto(version);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PromptServiceImpl::GetPrompt(grpc::CallbackServerContext* context,
                                                       const v1::GetPromptRequest* request,
                                                       v1::Prompt* response) {
  CallRecorder recorder(deps_.metrics, "GetPrompt");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    return DoGetPrompt(who.tenant_id, *request, response);
  }();
  return FinishNow(context, recorder.Done(status));
}

absl::Status PromptServiceImpl::DoDeletePrompt(const std::string& tenant,
                                               const v1::DeletePromptRequest& request,
                                               v1::DeletePromptResponse* response) {
  RETURN_IF_ERROR(ValidateName(request.prompt_name(), "prompt_name"));
  ASSIGN_OR_RETURN(const store::PromptSummary summary,
                   FindPrompt(tenant, request.prompt_name()));
  for (const store::PromptVersion& version : summary.versions) {
    if (version.state == store::PromptState::kTraining) {
      return absl::FailedPreconditionError(absl::StrCat(
          "prompt ", request.prompt_name(), " version ", version.version,
          " is still training (job ", version.job_id, "); cancel the job first"));
    }
  }
  RETURN_IF_ERROR(deps_.store->DeletePrompt(tenant, request.prompt_name()));
  for (const store::PromptVersion& version : summary.versions) {
    deps_.engine->EvictPrompt({tenant, request.prompt_name(), version.version, version.digest});
  }
  response->set_deleted_versions(static_cast<int32_t>(summary.versions.size()));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PromptServiceImpl::DeletePrompt(
    grpc::CallbackServerContext* context, const v1::DeletePromptRequest* request,
    v1::DeletePromptResponse* response) {
  CallRecorder recorder(deps_.metrics, "DeletePrompt");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    return DoDeletePrompt(who.tenant_id, *request, response);
  }();
  return FinishNow(context, recorder.Done(status));
}

absl::Status PromptServiceImpl::DoExportPrompt(const std::string& tenant,
                                               const v1::ExportPromptRequest& request,
                                               v1::ExportPromptResponse* response) {
  RETURN_IF_ERROR(ValidateName(request.prompt_name(), "prompt_name"));
  ASSIGN_OR_RETURN(const std::optional<int> version, ParseVersion(request.version()));
  ASSIGN_OR_RETURN(store::PromptVersion stored,
                   deps_.store->GetPrompt(tenant, request.prompt_name(), version));
  if (stored.state != store::PromptState::kReady) {
    return absl::FailedPreconditionError(absl::StrCat(
        "prompt ", request.prompt_name(), " version ", stored.version, " is not ready"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<prompts::PromptModel> model,
                   prompts::PromptModel::Deserialize(
                       *deps_.backbone,
                       {std::move(stored.artifact_safetensors),
                        std::move(stored.artifact_json)},
                       request.prompt_name()));
  ASSIGN_OR_RETURN(common::ScratchDir dir, common::ScratchDir::Create("ptune-peft"));
  RETURN_IF_ERROR(prompts::ExportPeftAdapter(*model, *deps_.backbone, dir.path()));
  for (const char* name : kAdapterFiles) {
    ASSIGN_OR_RETURN(std::string content, common::ReadFile(dir.path() + "/" + name));
    v1::File* file = response->add_files();
    file->set_name(name);
    file->set_content(std::move(content));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PromptServiceImpl::ExportPrompt(
    grpc::CallbackServerContext* context, const v1::ExportPromptRequest* request,
    v1::ExportPromptResponse* response) {
  CallRecorder recorder(deps_.metrics, "ExportPrompt");
  std::unique_ptr<auth::ConcurrencyLimiter::Slot> slot;
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    ASSIGN_OR_RETURN(slot, exports_.Acquire(who.tenant_id));
    return DoExportPrompt(who.tenant_id, *request, response);
  }();
  // The response (up to a prompt's size) stays in memory until the client
  // reads it; the slot is held as long, so unread exports are bounded.
  auto* reactor = new SlotHoldingReactor(std::move(slot));
  reactor->Finish(recorder.Done(status));
  return reactor;
}

absl::Status PromptServiceImpl::DoImportPrompt(const std::string& tenant,
                                               const v1::ImportPromptRequest& request,
                                               v1::Prompt* response) {
  RETURN_IF_ERROR(ValidateName(request.prompt_name(), "prompt_name"));
  ASSIGN_OR_RETURN(common::ScratchDir dir, common::ScratchDir::Create("ptune-peft"));
  int64_t bytes = 0;
  for (int i = 0; i < request.files_size(); ++i) {
    const v1::File& file = request.files(i);
    bool known = false;
    for (const char* name : kAdapterFiles) known |= file.name() == name;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "files[", i, "].name must be adapter_config.json, "
          "adapter_model.safetensors or ptune_export.json"));
    }
    bytes += static_cast<int64_t>(file.content().size());
    RETURN_IF_ERROR(
        common::WriteFileAtomically(dir.path() + "/" + file.name(), file.content()));
  }
  RETURN_IF_ERROR(CheckStoredBytes(*deps_.store, tenant, bytes));
  absl::StatusOr<std::unique_ptr<prompts::PromptModel>> imported =
      prompts::ImportPeftAdapter(*deps_.backbone, dir.path(),
                                 std::vector<std::string>(request.labels().begin(),
                                                          request.labels().end()));
  if (!imported.ok()) {
    // Name the files as the client sent them, not by the scratch folder.
    return absl::Status(imported.status().code(),
                        absl::StrReplaceAll(imported.status().message(),
                                            {{dir.path() + "/", ""},
                                             {dir.path(), "the adapter folder"}}));
  }
  std::unique_ptr<prompts::PromptModel> model = *std::move(imported);
  RETURN_IF_ERROR(datasets::ValidateLabelSet(model->task(), model->labels(),
                                             deps_.limits.max_labels));
  // CreatePromptVersion checks the name's task and the prompt and storage
  // quotas in the transaction that writes.
  ASSIGN_OR_RETURN(prompts::PromptArtifact artifact,
                   model->Serialize({{"imported", true}}));
  store::PromptVersion version;
  version.tenant_id = tenant;
  version.name = request.prompt_name();
  version.state = store::PromptState::kReady;
  version.task = model->task() == datasets::Task::kTag ? "tag" : "classify";
  version.spec_json = prompts::PromptSpecToJson(model->spec()).dump();
  version.labels = model->labels();
  version.metrics_json = "{}";
  version.artifact_safetensors = std::move(artifact.tensors);
  version.artifact_json = std::move(artifact.metadata_json);
  ASSIGN_OR_RETURN(store::PromptVersion created, deps_.store->CreatePromptVersion(version));
  *response = PromptToProto(created);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PromptServiceImpl::ImportPrompt(
    grpc::CallbackServerContext* context, const v1::ImportPromptRequest* request,
    v1::Prompt* response) {
  CallRecorder recorder(deps_.metrics, "ImportPrompt");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    return DoImportPrompt(who.tenant_id, *request, response);
  }();
  return FinishNow(context, recorder.Done(status));
}

}  // namespace ptune::service
