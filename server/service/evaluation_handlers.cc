// EvaluatePrompt: resolve the prompt (and ensemble), read the labeled data,
// and let the engine score it on the executor; the call finishes from the
// engine's completion callback.
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/datasets/dataset.h"
#include "server/service/prompt_service.h"

namespace ptune::service {
namespace {

void FillLabel(const std::string& label, double precision, double recall, double f1,
               int64_t support, int64_t predicted, v1::LabelMetrics* out) {
  out->set_label(label);
  out->set_precision(precision);
  out->set_recall(recall);
  out->set_f1(f1);
  out->set_support(support);
  out->set_predicted(predicted);
}

void FillMetrics(const training::Evaluation& eval, datasets::Task task,
                 v1::EvaluatePromptResponse* out) {
  if (task == datasets::Task::kClassify) {
    const training::ClassificationScores& scores = eval.classification;
    v1::ClassificationMetrics* metrics = out->mutable_classification();
    metrics->set_accuracy(scores.accuracy);
    metrics->set_macro_f1(scores.macro_f1);
    for (size_t l = 0; l < scores.per_label.size() && l < eval.labels.size(); ++l) {
      const training::ClassScores& s = scores.per_label[l];
      FillLabel(eval.labels[l], s.precision, s.recall, s.f1, s.support, s.predicted,
                metrics->add_labels());
    }
    metrics->mutable_confusion()->Add(scores.confusion.begin(), scores.confusion.end());
    return;
  }
  const training::EntityScores& scores = eval.entities;
  v1::TaggingMetrics* metrics = out->mutable_tagging();
  metrics->set_precision(scores.precision);
  metrics->set_recall(scores.recall);
  metrics->set_f1(scores.f1);
  metrics->set_gold(scores.gold);
  metrics->set_predicted(scores.predicted);
  metrics->set_correct(scores.correct);
  for (const auto& [type, s] : scores.per_type) {
    FillLabel(type, s.precision, s.recall, s.f1, s.support, s.predicted, metrics->add_types());
  }
}

}  // namespace

grpc::ServerUnaryReactor* PromptServiceImpl::EvaluatePrompt(
    grpc::CallbackServerContext* context, const v1::EvaluatePromptRequest* request,
    v1::EvaluatePromptResponse* response) {
  auto* reactor = new CancellableUnaryReactor();
  auto recorder = std::make_shared<CallRecorder>(deps_.metrics, "EvaluatePrompt");
  const absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    const std::string& tenant = who.tenant_id;
    std::string task_name;
    ASSIGN_OR_RETURN(engine::PromptKey key,
                     ResolveServingVersion(tenant, request->prompt_name(), request->version(),
                                           "", &task_name));
    ASSIGN_OR_RETURN(const datasets::Task task, datasets::TaskFromName(task_name));
    engine::EvaluateRequest call;
    std::vector<v1::PromptRef> answered;
    RETURN_IF_ERROR(
        ResolveEnsemble(tenant, request->ensemble(), task_name, &call.ensemble, &answered));
    if (request->data_case() == v1::EvaluatePromptRequest::DATA_NOT_SET) {
      return absl::InvalidArgumentError("examples or dataset_id is required");
    }
    // The slot is held until the engine answers: it bounds parsed data in
    // memory and evaluations queued on the executor.
    ASSIGN_OR_RETURN(std::unique_ptr<auth::ConcurrencyLimiter::Slot> acquired,
                     evaluations_.Acquire(tenant));
    std::shared_ptr<auth::ConcurrencyLimiter::Slot> slot = std::move(acquired);
    ASSIGN_OR_RETURN(
        RequestData data,
        ReadRequestData(tenant, task, request->has_examples() ? &request->examples() : nullptr,
                        request->dataset_id(),
                        request->has_examples() ? "examples" : "dataset_id",
                        request->prompt_name() + ".eval"));
    const int64_t version = key.version;
    const int64_t examples = static_cast<int64_t>(data.data.size());
    call.key = std::move(key);
    call.data = std::move(data.data);
    call.deadline = CallDeadline(*context);
    call.cancelled = reactor->cancelled();
    deps_.engine->Evaluate(
        std::move(call), [reactor, recorder, response, version, examples, task, slot,
                          answered = std::move(answered)](
                             absl::StatusOr<training::Evaluation> result) {
          if (result.ok()) {
            response->set_version(version);
            for (const v1::PromptRef& ref : answered) *response->add_ensemble() = ref;
            response->set_example_count(examples);
            FillMetrics(*result, task, response);
          }
          reactor->Finish(recorder->Done(result.status()));
        });
    return absl::OkStatus();
  }();
  if (!status.ok()) reactor->Finish(recorder->Done(status));
  return reactor;
}

}  // namespace ptune::service
