// PromptServiceImpl: the tenant-facing gRPC service (ptune.v1.PromptService)
// on the callback API. Thin: each handler authenticates (call_context.h),
// validates, delegates to the engine / store / job runner, maps the status
// (grpc_status.h) and records metrics. Inference handlers never block on the
// model: the engine completes them from its executor.
//
// The handlers live in five files by theme: inference_handlers.cc,
// evaluation_handlers.cc, training_handlers.cc, job_handlers.cc,
// prompt_handlers.cc.
//
// Thread-safety: thread-safe (state lives in the collaborators).
// Ownership: borrows everything in ServiceDeps.
#ifndef PTUNE_SERVER_SERVICE_PROMPT_SERVICE_H_
#define PTUNE_SERVER_SERVICE_PROMPT_SERVICE_H_

#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "ptune/v1/ptune.grpc.pb.h"
#include "server/service/call_context.h"

namespace ptune::service {

class WatchReactor;

class PromptServiceImpl final : public v1::PromptService::CallbackService {
 public:
  explicit PromptServiceImpl(ServiceDeps deps)
      : deps_(std::move(deps)),
        uploads_("uploads", "--max_concurrent_uploads",
                 deps_.limits.max_concurrent_uploads,
                 deps_.limits.max_concurrent_uploads_per_tenant),
        exports_("exports", "--max_concurrent_exports",
                 deps_.limits.max_concurrent_exports,
                 deps_.limits.max_concurrent_exports_per_tenant),
        evaluations_("evaluations", "--max_concurrent_evaluations",
                     deps_.limits.max_concurrent_evaluations,
                     deps_.limits.max_concurrent_evaluations_per_tenant) {}

  // At shutdown: ends every open WatchJob stream with UNAVAILABLE (a watch
  // on a running job would otherwise hold the graceful shutdown for its
  // whole grace period) and refuses new ones.
  void EndWatches();

  grpc::ServerUnaryReactor* TrainPrompt(grpc::CallbackServerContext* context,
                                        const v1::TrainPromptRequest* request,
                                        v1::TrainPromptResponse* response) override;
  grpc::ServerReadReactor<v1::UploadDatasetRequest>* UploadDataset(
      grpc::CallbackServerContext* context, v1::Dataset* response) override;

  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const v1::GetJobRequest* request,
                                   v1::Job* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const v1::CancelJobRequest* request,
                                      v1::Job* response) override;
  grpc::ServerWriteReactor<v1::Job>* WatchJob(
      grpc::CallbackServerContext* context,
      const v1::WatchJobRequest* request) override;

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const v1::ClassifyRequest* request,
                                     v1::ClassifyResponse* response) override;
  grpc::ServerUnaryReactor* TagEntities(grpc::CallbackServerContext* context,
                                        const v1::TagEntitiesRequest* request,
                                        v1::TagEntitiesResponse* response) override;

  grpc::ServerUnaryReactor* EvaluatePrompt(grpc::CallbackServerContext* context,
                                           const v1::EvaluatePromptRequest* request,
                                           v1::EvaluatePromptResponse* response) override;

  grpc::ServerUnaryReactor* ListDatasets(grpc::CallbackServerContext* context,
                                         const v1::ListDatasetsRequest* request,
                                         v1::ListDatasetsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteDataset(grpc::CallbackServerContext* context,
                                          const v1::DeleteDatasetRequest* request,
                                          v1::DeleteDatasetResponse* response) override;
  grpc::ServerUnaryReactor* ListPrompts(grpc::CallbackServerContext* context,
                                        const v1::ListPromptsRequest* request,
                                        v1::ListPromptsResponse* response) override;
  grpc::ServerUnaryReactor* GetPrompt(grpc::CallbackServerContext* context,
                                      const v1::GetPromptRequest* request,
                                      v1::Prompt* response) override;
  grpc::ServerUnaryReactor* DeletePrompt(grpc::CallbackServerContext* context,
                                         const v1::DeletePromptRequest* request,
                                         v1::DeletePromptResponse* response) override;
  grpc::ServerUnaryReactor* ExportPrompt(grpc::CallbackServerContext* context,
                                         const v1::ExportPromptRequest* request,
                                         v1::ExportPromptResponse* response) override;
  grpc::ServerUnaryReactor* ImportPrompt(grpc::CallbackServerContext* context,
                                         const v1::ImportPromptRequest* request,
                                         v1::Prompt* response) override;

 private:
  // The job as the API shows it, with its prompt version's metrics once it
  // succeeded.
  v1::Job JobView(const store::Job& job) const;
  // Synchronous bodies of the unary handlers above (store and runner calls
  // are short; the engine calls are asynchronous and live in the handlers).
  absl::Status DoTrainPrompt(const std::string& tenant,
                             const v1::TrainPromptRequest& request,
                             v1::TrainPromptResponse* response);
  absl::Status DoDeleteDataset(const std::string& tenant, const std::string& dataset_id);
  absl::Status DoGetPrompt(const std::string& tenant,
                           const v1::GetPromptRequest& request, v1::Prompt* response);
  absl::Status DoDeletePrompt(const std::string& tenant,
                              const v1::DeletePromptRequest& request,
                              v1::DeletePromptResponse* response);
  absl::Status DoExportPrompt(const std::string& tenant,
                              const v1::ExportPromptRequest& request,
                              v1::ExportPromptResponse* response);
  absl::Status DoImportPrompt(const std::string& tenant,
                              const v1::ImportPromptRequest& request,
                              v1::Prompt* response);
  // The version a Classify/TagEntities call uses (0 = latest ready), checked
  // to be ready and of `task`, as the engine's key (with its digest). Warm,
  // it comes from the store's cache (store::CachingStore).
  // An empty `task` accepts either; `task_out` (optional) gets the prompt's.
  absl::StatusOr<engine::PromptKey> ResolveServingVersion(const std::string& tenant,
                                                          const std::string& name,
                                                          int64_t version,
                                                          absl::string_view task,
                                                          std::string* task_out = nullptr);
  // The ensemble members of a Classify / TagEntities / EvaluatePrompt call
  // (at most engine::kMaxEnsemblePrompts - 1), resolved as the main prompt
  // (errors prefixed "ensemble: "): their keys, and their refs with the
  // versions that answer.
  absl::Status ResolveEnsemble(const std::string& tenant,
                               const google::protobuf::RepeatedPtrField<v1::PromptRef>& members,
                               absl::string_view task, std::vector<engine::PromptKey>* keys,
                               std::vector<v1::PromptRef>* answered);
  // Classify / TagEntities: authenticate, validate, resolve the version and
  // hand the texts to `engine_call`, which completes the call.
  template <typename Request, typename Response, typename EngineCall>
  grpc::ServerUnaryReactor* ServeTexts(grpc::CallbackServerContext* context,
                                       const Request& request, Response* response,
                                       const char* method, absl::string_view task,
                                       EngineCall engine_call);
  // The tenant's prompt `name` with every version (NOT_FOUND when none).
  absl::StatusOr<store::PromptSummary> FindPrompt(const std::string& tenant,
                                                  const std::string& name);
  // RESOURCE_EXHAUSTED when adding prompt `name` would exceed the tenant's
  // prompt quota (a new version of an existing name never does).
  // A new version of `name` must have the same `task` as the existing ones.
  absl::Status CheckPromptQuotaFor(const std::string& tenant, const std::string& name,
                                   std::optional<datasets::Task> task = std::nullopt);
  // A dataset that passed every check but the storage quota, not stored yet.
  struct CheckedDataset {
    store::Dataset record;
    datasets::Dataset parsed;
  };
  // Size, parse, per-example and example-count checks (INVALID_ARGUMENT
  // naming the limit).
  absl::StatusOr<CheckedDataset> CheckDataset(const std::string& tenant,
                                              const std::string& name,
                                              datasets::Task task,
                                              datasets::Format format,
                                              std::string content);
  // Data of a request: inline examples (checked and parsed; `pending` is
  // the dataset to store, without an id) or a stored dataset (checked to be
  // of `task`, parsed; its id). Neither given: an empty result (no id, no
  // pending). `field` names the request field in errors, `name` the dataset
  // made of inline data.
  struct RequestData {
    std::string dataset_id;
    std::optional<store::Dataset> pending;
    datasets::Dataset data;
  };
  absl::StatusOr<RequestData> ReadRequestData(const std::string& tenant, datasets::Task task,
                                              const v1::ExampleSet* inline_set,
                                              const std::string& dataset_id,
                                              absl::string_view field, const std::string& name);
  // CheckDataset + CheckStoredBytes, then stores it.
  absl::StatusOr<store::Dataset> StoreDataset(const std::string& tenant,
                                              const std::string& name,
                                              datasets::Task task,
                                              datasets::Format format,
                                              std::string content);

  const ServiceDeps deps_;
  auth::ConcurrencyLimiter uploads_;
  auth::ConcurrencyLimiter exports_;
  auth::ConcurrencyLimiter evaluations_;

  friend class WatchReactor;
  // Open WatchJob streams (reactors deregister in OnDone).
  absl::Mutex watches_mu_;
  absl::flat_hash_set<WatchReactor*> watches_ ABSL_GUARDED_BY(watches_mu_);
  bool watches_ended_ ABSL_GUARDED_BY(watches_mu_) = false;
};

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_PROMPT_SERVICE_H_
