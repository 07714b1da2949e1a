// TrainPrompt and UploadDataset: validate, store the data, enqueue the job.
#include <algorithm>
#include <functional>
#include <optional>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "server/auth/quotas.h"
#include "server/common/status_macros.h"
#include "server/datasets/label_set.h"
#include "server/service/proto_convert.h"
#include "server/service/prompt_service.h"
#include "server/service/training_job_executor.h"

namespace ptune::service {
absl::StatusOr<PromptServiceImpl::CheckedDataset> PromptServiceImpl::CheckDataset(
    const std::string& tenant, const std::string& name, datasets::Task task,
    datasets::Format format, std::string content) {
  if (static_cast<int64_t>(content.size()) > deps_.limits.max_dataset_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset ", name, " has ", content.size(), " bytes; the limit is ",
        deps_.limits.max_dataset_bytes, " (--max_dataset_bytes)"));
  }
  CheckedDataset out;
  ASSIGN_OR_RETURN(out.parsed, datasets::ParseDataset(content, name, task, format));
  RETURN_IF_ERROR(
      ValidateExampleSizes(out.parsed, deps_.limits, absl::StrCat("dataset ", name)));
  const int64_t count = static_cast<int64_t>(out.parsed.size());
  if (count > deps_.limits.max_examples) {
    return absl::InvalidArgumentError(absl::StrCat("dataset ", name, " has ", count,
                                                   " examples; the limit is ",
                                                   deps_.limits.max_examples));
  }
  out.record.tenant_id = tenant;
  out.record.name = name;
  out.record.task = std::string(datasets::TaskName(task));
  out.record.format = std::string(datasets::FormatName(format));
  out.record.content = std::move(content);
  out.record.example_count = count;
  return out;
}

absl::StatusOr<store::Dataset> PromptServiceImpl::StoreDataset(
    const std::string& tenant, const std::string& name, datasets::Task task,
    datasets::Format format, std::string content) {
  ASSIGN_OR_RETURN(CheckedDataset checked,
                   CheckDataset(tenant, name, task, format, std::move(content)));
  // CreateDataset checks the storage quota in the transaction that writes.
  return deps_.store->CreateDataset(checked.record);
}

absl::StatusOr<PromptServiceImpl::RequestData> PromptServiceImpl::ReadRequestData(
    const std::string& tenant, datasets::Task task, const v1::ExampleSet* inline_set,
    const std::string& dataset_id, absl::string_view field, const std::string& name) {
  RequestData part;
  if (inline_set != nullptr) {
    ASSIGN_OR_RETURN(std::string jsonl, ExamplesToJsonl(task, *inline_set, field));
    ASSIGN_OR_RETURN(CheckedDataset checked,
                     CheckDataset(tenant, name, task, datasets::Format::kJsonl, std::move(jsonl)));
    part.pending = std::move(checked.record);
    part.data = std::move(checked.parsed);
    return part;
  }
  if (dataset_id.empty()) return part;
  RETURN_IF_ERROR(ValidateId(dataset_id, field));
  ASSIGN_OR_RETURN(store::Dataset stored, deps_.store->GetDataset(tenant, dataset_id));
  if (stored.task != datasets::TaskName(task)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", dataset_id, " is a ",
                                                   stored.task, " dataset, not ",
                                                   datasets::TaskName(task)));
  }
  ASSIGN_OR_RETURN(part.data, datasets::ParseDataset(stored.content, field, task,
                                                     StoredFormat(stored.format)));
  RETURN_IF_ERROR(ValidateExampleSizes(part.data, deps_.limits, field));
  part.dataset_id = stored.id;
  return part;
}

absl::Status PromptServiceImpl::DoTrainPrompt(const std::string& tenant,
                                              const v1::TrainPromptRequest& in,
                                              v1::TrainPromptResponse* response) {
  RETURN_IF_ERROR(ValidateName(in.prompt_name(), "prompt_name"));
  // Refused before anything is stored (a job would fail at its start).
  RETURN_IF_ERROR(engine::CheckTrainableDtype(deps_.backbone->dtype()));
  ASSIGN_OR_RETURN(const datasets::Task task, TaskFromProto(in.task(), "task"));
  ASSIGN_OR_RETURN(prompts::PromptSpec spec, SpecFromProto(in.spec()));
  RETURN_IF_ERROR(prompts::ValidatePromptSpec(spec, deps_.backbone->config()));
  // Task-dependent defaults are settled now and stored with the job, so a
  // job resumed by a later version trains with the spec it was queued with.
  const bool case_embeddings = in.spec().has_case_embeddings()
                                   ? in.spec().case_embeddings()
                                   : prompts::DefaultCaseEmbeddings(task);
  spec.case_embeddings = case_embeddings;
  ASSIGN_OR_RETURN(const training::TrainOptions options, OptionsFromProto(in.options()));
  // Every search candidate must be a valid spec on its own (the job would
  // find out only when it reaches it).
  ASSIGN_OR_RETURN(const std::vector<prompts::PromptSpec> candidates,
                   SearchCandidates(in.spec(), spec));
  for (const prompts::PromptSpec& candidate : candidates) {
    absl::Status valid = prompts::ValidatePromptSpec(candidate, deps_.backbone->config());
    if (!valid.ok() && candidates.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "search candidate (length ", candidate.length, ", template \"",
          candidate.template_text, "\"): ", valid.message()));
    }
    RETURN_IF_ERROR(valid);
  }
  RETURN_IF_ERROR(SearchEpochs(in.options(), options.epochs).status());
  if (in.labels_size() > deps_.limits.max_labels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "labels has ", in.labels_size(), " entries; the limit is ", deps_.limits.max_labels));
  }
  RETURN_IF_ERROR(datasets::ValidateLabelNames(
      std::vector<std::string>(in.labels().begin(), in.labels().end()), "labels"));
  if (spec.init == prompts::PromptInit::kPrompt) {
    RETURN_IF_ERROR(ValidateName(spec.init_prompt, "spec.init_prompt"));
    ASSIGN_OR_RETURN(const store::PromptVersion source,
                     deps_.store->GetPromptMetadata(tenant, spec.init_prompt));
    // What the job would find out only when it starts.
    const nlohmann::json source_spec = nlohmann::json::parse(source.spec_json, nullptr, false);
    if (source_spec.is_object()) {
      ASSIGN_OR_RETURN(const prompts::PromptSpec from,
                       prompts::PromptSpecFromJson(source_spec));
      if (from.kind != spec.kind || from.length != spec.length) {
        return absl::InvalidArgumentError(absl::StrCat(
            "spec.init_prompt ", spec.init_prompt, " is a ",
            from.kind == prompts::PromptKind::kDeep ? "deep" : "shallow", " prompt of length ",
            from.length, "; spec asks for ",
            spec.kind == prompts::PromptKind::kDeep ? "deep" : "shallow", " of length ",
            spec.length));
      }
    }
    if (spec.reparam != prompts::Reparam::kNone) {
      return absl::InvalidArgumentError(
          "spec.init_prompt cannot be combined with spec.reparam MLP");
    }
  }

  RETURN_IF_ERROR(CheckPromptQuotaFor(tenant, in.prompt_name(), task));

  // Inline data becomes datasets that the job refers to, stored only once
  // the whole request is valid: a rejected request leaves nothing behind.
  v1::TrainPromptRequest job_request = in;
  job_request.mutable_spec()->set_case_embeddings(case_embeddings);
  ASSIGN_OR_RETURN(
      RequestData train,
      ReadRequestData(tenant, task, in.has_train_examples() ? &in.train_examples() : nullptr,
                      in.train_dataset_id(),
                      in.has_train_examples() ? "train_examples" : "train_dataset_id",
                      in.prompt_name() + ".train"));
  if (train.dataset_id.empty() && !train.pending.has_value()) {
    return absl::InvalidArgumentError(
        "train_examples or train_dataset_id is required");
  }
  ASSIGN_OR_RETURN(
      RequestData valid,
      ReadRequestData(tenant, task, in.has_valid_examples() ? &in.valid_examples() : nullptr,
                      in.valid_dataset_id(),
                      in.has_valid_examples() ? "valid_examples" : "valid_dataset_id",
                      in.prompt_name() + ".valid"));

  ASSIGN_OR_RETURN(
      RequestData test,
      ReadRequestData(tenant, task, in.has_test_examples() ? &in.test_examples() : nullptr,
                      in.test_dataset_id(),
                      in.has_test_examples() ? "test_examples" : "test_dataset_id",
                      in.prompt_name() + ".test"));

  // Check sizes and labels now, so that a bad request fails here and not in
  // the queue.
  if (static_cast<int64_t>(train.data.size()) < deps_.limits.min_examples) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the training data has ", train.data.size(), " examples; at least ",
        deps_.limits.min_examples, " are needed"));
  }
  const std::vector<std::string> declared(in.labels().begin(), in.labels().end());
  ASSIGN_OR_RETURN(
      const std::vector<std::string> head_labels,
      RequestLabels(task, declared, train.data, valid.data, deps_.limits.max_labels,
                    &test.data));
  if (in.auxiliary_tasks_size() > kMaxAuxiliaryTasks) {
    return absl::InvalidArgumentError(absl::StrCat("auxiliary_tasks has ",
                                                   in.auxiliary_tasks_size(),
                                                   " entries; the limit is ",
                                                   kMaxAuxiliaryTasks));
  }
  for (int i = 0; i < in.auxiliary_tasks_size(); ++i) {
    const std::string field = absl::StrCat("auxiliary_tasks[", i, "]");
    const v1::AuxiliaryTask& entry = in.auxiliary_tasks(i);
    if (!entry.dataset_id().empty()) {
      RETURN_IF_ERROR(ValidateId(entry.dataset_id(), field + ".dataset_id"));
    }
    ASSIGN_OR_RETURN(const engine::AuxiliaryTraining aux,
                     LoadAuxiliaryTask(*deps_.store, tenant, entry,
                                       deps_.limits.max_labels, field));
    RETURN_IF_ERROR(ValidateExampleSizes(aux.train, deps_.limits, field));
  }
  for (const prompts::PromptSpec& candidate : candidates) {
    if (!candidate.verbalizer.empty() && task == datasets::Task::kClassify &&
        candidate.verbalizer.size() != head_labels.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          in.spec().verbalizer_candidates_size() > 0 ? "a spec.verbalizer_candidates entry"
                                              : "spec.verbalizer",
          " has ", candidate.verbalizer.size(), " words for ", head_labels.size(),
          " labels; give one word per label, in label order"));
    }
  }

  // Inline data becomes datasets with ids chosen now, so that the job's
  // request can name them; the store writes them with the prompt version
  // and the job in one transaction, after its quota checks.
  store::TrainingSubmission submission;
  for (RequestData* part : {&train, &valid, &test}) {
    if (!part->pending.has_value()) continue;
    part->pending->id = store::NewId("ds_");
    part->dataset_id = part->pending->id;
    submission.datasets.push_back(*std::move(part->pending));
  }
  job_request.clear_train_examples();
  job_request.clear_valid_examples();
  job_request.clear_test_examples();
  job_request.set_train_dataset_id(train.dataset_id);
  if (!valid.dataset_id.empty()) job_request.set_valid_dataset_id(valid.dataset_id);
  if (!test.dataset_id.empty()) job_request.set_test_dataset_id(test.dataset_id);
  std::string request_json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(job_request, &request_json, print).ok()) {
    return absl::InternalError("cannot serialize the training request");
  }

  store::PromptVersion& version = submission.version;
  version.tenant_id = tenant;
  version.name = in.prompt_name();
  version.state = store::PromptState::kTraining;
  version.task = std::string(datasets::TaskName(task));
  version.spec_json = prompts::PromptSpecToJson(spec).dump();
  store::Job& job = submission.job;
  job.tenant_id = tenant;
  job.prompt_name = in.prompt_name();
  job.request_json = std::move(request_json);
  ASSIGN_OR_RETURN(const store::Job submitted, deps_.jobs->SubmitTraining(submission));
  *response->mutable_job() = JobView(submitted);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PromptServiceImpl::TrainPrompt(
    grpc::CallbackServerContext* context, const v1::TrainPromptRequest* request,
    v1::TrainPromptResponse* response) {
  CallRecorder recorder(deps_.metrics, "TrainPrompt");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    return DoTrainPrompt(who.tenant_id, *request, response);
  }();
  return FinishNow(context, recorder.Done(status));
}

namespace {

// Collects the chunks of one UploadDataset stream, then stores the dataset.
// The header is checked (name, task, format, an upload slot, the storage
// quota) when it arrives, before any data is buffered, and the stream stops
// as soon as it passes the most bytes it may send.
class UploadReactor : public grpc::ServerReadReactor<v1::UploadDatasetRequest> {
 public:
  // What the header admitted: the slot this upload holds, the most bytes
  // it may send, and the error once it sends more.
  struct Admission {
    std::unique_ptr<auth::ConcurrencyLimiter::Slot> slot;
    int64_t max_bytes = 0;
    std::function<absl::Status(int64_t bytes)> over_limit;
  };
  using AdmitFn =
      std::function<absl::StatusOr<Admission>(const v1::UploadDatasetRequest::Header&)>;
  using StoreFn = std::function<absl::StatusOr<store::Dataset>(
      const v1::UploadDatasetRequest::Header&, std::string)>;

  UploadReactor(absl::Status auth, AdmitFn admit, StoreFn store, v1::Dataset* response,
                CallRecorder recorder)
      : admit_(std::move(admit)), store_(std::move(store)), response_(response),
        recorder_(std::move(recorder)) {
    if (!auth.ok()) {
      Finish(recorder_.Done(auth));
      return;
    }
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished sending
      Finish(recorder_.Done(Complete()));
      return;
    }
    if (absl::Status status = Take(); !status.ok()) {
      Finish(recorder_.Done(status));
      return;
    }
    message_.Clear();
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Take() {
    if (message_.has_header()) {
      if (admission_.has_value()) {
        return absl::InvalidArgumentError("header must be sent once, in the first message");
      }
      header_ = message_.header();
      absl::StatusOr<Admission> admitted = admit_(header_);
      if (!admitted.ok()) return admitted.status();
      admission_ = *std::move(admitted);
    } else if (!admission_.has_value()) {
      return absl::InvalidArgumentError("the first message must carry the header");
    }
    const int64_t bytes = static_cast<int64_t>(content_.size() + message_.chunk().size());
    if (bytes > admission_->max_bytes) return admission_->over_limit(bytes);
    content_ += message_.chunk();
    return absl::OkStatus();
  }

  absl::Status Complete() {
    if (!admission_.has_value()) return absl::InvalidArgumentError("no header was sent");
    ASSIGN_OR_RETURN(store::Dataset stored, store_(header_, std::move(content_)));
    *response_ = DatasetToProto(stored);
    return absl::OkStatus();
  }

  const AdmitFn admit_;
  const StoreFn store_;
  v1::Dataset* const response_;
  const CallRecorder recorder_;
  v1::UploadDatasetRequest message_;
  v1::UploadDatasetRequest::Header header_;
  std::optional<Admission> admission_;
  std::string content_;
};

}  // namespace

grpc::ServerReadReactor<v1::UploadDatasetRequest>* PromptServiceImpl::UploadDataset(
    grpc::CallbackServerContext* context, v1::Dataset* response) {
  absl::StatusOr<auth::Principal> who = Authorize(deps_, *context, false);
  const std::string tenant = who.ok() ? who->tenant_id : "";
  auto admit = [this, tenant](const v1::UploadDatasetRequest::Header& header)
      -> absl::StatusOr<UploadReactor::Admission> {
    RETURN_IF_ERROR(ValidateName(header.name(), "header.name"));
    RETURN_IF_ERROR(TaskFromProto(header.task(), "header.task").status());
    RETURN_IF_ERROR(FormatFromProto(header.format()).status());
    UploadReactor::Admission admission;
    ASSIGN_OR_RETURN(admission.slot, uploads_.Acquire(tenant));
    ASSIGN_OR_RETURN(store::Tenant owner, deps_.store->GetTenant(tenant));
    ASSIGN_OR_RETURN(const int64_t stored, deps_.store->StoredBytes(tenant));
    const int64_t quota = owner.quotas.max_stored_bytes;
    RETURN_IF_ERROR(auth::CheckStorageQuota(stored, 1, quota));  // already full
    const int64_t limit = deps_.limits.max_dataset_bytes;
    const int64_t room = quota > 0 ? quota - stored : limit;
    admission.max_bytes = std::min(limit, room);
    admission.over_limit = [limit, room, stored, quota](int64_t bytes) {
      if (bytes > room && room < limit) {
        return auth::CheckStorageQuota(stored, bytes, quota);
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "the dataset exceeds the limit of ", limit, " bytes (--max_dataset_bytes)"));
    };
    return admission;
  };
  return new UploadReactor(
      who.status(), std::move(admit),
      [this, tenant](const v1::UploadDatasetRequest::Header& header,
                     std::string content) -> absl::StatusOr<store::Dataset> {
        ASSIGN_OR_RETURN(const datasets::Task task, TaskFromProto(header.task(), "header.task"));
        ASSIGN_OR_RETURN(const datasets::Format format, FormatFromProto(header.format()));
        return StoreDataset(tenant, header.name(), task, format, std::move(content));
      },
      response, CallRecorder(deps_.metrics, "UploadDataset"));
}

grpc::ServerUnaryReactor* PromptServiceImpl::ListDatasets(
    grpc::CallbackServerContext* context, const v1::ListDatasetsRequest* request,
    v1::ListDatasetsResponse* response) {
  CallRecorder recorder(deps_.metrics, "ListDatasets");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    ASSIGN_OR_RETURN(std::vector<store::Dataset> all,
                     deps_.store->ListDatasets(who.tenant_id));
    for (const store::Dataset& dataset : all) *response->add_datasets() = DatasetToProto(dataset);
    return absl::OkStatus();
  }();
  return FinishNow(context, recorder.Done(status));
}

absl::Status PromptServiceImpl::DoDeleteDataset(const std::string& tenant,
                                                const std::string& dataset_id) {
  RETURN_IF_ERROR(ValidateId(dataset_id, "dataset_id"));
  RETURN_IF_ERROR(deps_.store->GetDataset(tenant, dataset_id).status());
  // A queued or running job reads its datasets when it (re)starts.
  for (const store::JobState state : {store::JobState::kQueued, store::JobState::kRunning}) {
    std::string token;
    do {
      ASSIGN_OR_RETURN(store::JobPage page, deps_.store->ListJobs(tenant, state, 1000, token));
      for (const store::Job& job : page.jobs) {
        v1::TrainPromptRequest request;
        if (!google::protobuf::util::JsonStringToMessage(job.request_json, &request).ok()) {
          continue;
        }
        if (request.train_dataset_id() == dataset_id ||
            request.valid_dataset_id() == dataset_id ||
            request.test_dataset_id() == dataset_id) {
          return absl::FailedPreconditionError(absl::StrCat(
              "dataset ", dataset_id, " is used by job ", job.id, " (",
              store::JobStateName(state), "); cancel it or wait for it to end"));
        }
      }
      token = page.next_page_token;
    } while (!token.empty());
  }
  return deps_.store->DeleteDataset(tenant, dataset_id);
}

grpc::ServerUnaryReactor* PromptServiceImpl::DeleteDataset(
    grpc::CallbackServerContext* context, const v1::DeleteDatasetRequest* request,
    v1::DeleteDatasetResponse* response) {
  CallRecorder recorder(deps_.metrics, "DeleteDataset");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    return DoDeleteDataset(who.tenant_id, request->dataset_id());
  }();
  return FinishNow(context, recorder.Done(status));
}

}  // namespace ptune::service
