// Classify and TagEntities: resolve the prompt version, hand the texts to the
// engine, and finish the call from the engine's completion callback.
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/service/prompt_service.h"

namespace ptune::service {

absl::StatusOr<engine::PromptKey> PromptServiceImpl::ResolveServingVersion(
    const std::string& tenant, const std::string& name, int64_t version,
    absl::string_view task, std::string* task_out) {
  RETURN_IF_ERROR(ValidateName(name, "prompt_name"));
  ASSIGN_OR_RETURN(const std::optional<int> wanted, ParseVersion(version));
  absl::StatusOr<store::PromptVersion> prompt = deps_.store->GetPromptMetadata(tenant, name, wanted);
  if (absl::IsNotFound(prompt.status()) && !wanted.has_value()) {
    // A name whose first version is still training has no ready version.
    if (FindPrompt(tenant, name).ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "prompt ", name, " has no ready version yet (still training or failed)"));
    }
  }
  if (!prompt.ok()) return prompt.status();
  if (prompt->state != store::PromptState::kReady) {
    return absl::FailedPreconditionError(
        absl::StrCat("prompt ", name, " version ", prompt->version, " is ",
                     store::PromptStateName(prompt->state), ", not ready"));
  }
  if (!task.empty() && prompt->task != task) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt ", name, " is a ", prompt->task, " prompt; ",
        task == "classify" ? "Classify needs a classify prompt"
                           : "TagEntities needs a tag prompt"));
  }
  if (task_out != nullptr) *task_out = prompt->task;
  return engine::PromptKey{tenant, name, prompt->version, prompt->digest};
}

absl::Status PromptServiceImpl::ResolveEnsemble(
    const std::string& tenant, const google::protobuf::RepeatedPtrField<v1::PromptRef>& members,
    absl::string_view task, std::vector<engine::PromptKey>* keys,
    std::vector<v1::PromptRef>* answered) {
  if (members.size() + 1 > engine::kMaxEnsemblePrompts) {
    return absl::InvalidArgumentError(
        absl::StrCat("ensemble has ", members.size(), " prompts; at most ",
                     engine::kMaxEnsemblePrompts - 1, " besides prompt_name"));
  }
  for (const v1::PromptRef& member : members) {
    absl::StatusOr<engine::PromptKey> resolved =
        ResolveServingVersion(tenant, member.name(), member.version(), task);
    if (!resolved.ok()) {
      return absl::Status(resolved.status().code(),
                          absl::StrCat("ensemble: ", resolved.status().message()));
    }
    v1::PromptRef& ref = answered->emplace_back();
    ref.set_name(member.name());
    ref.set_version(resolved->version);
    keys->push_back(*std::move(resolved));
  }
  return absl::OkStatus();
}

namespace {

void FillResponse(const engine::ClassifyResponse& in, v1::ClassifyResponse* out) {
  for (const engine::ClassifyResult& r : in.results) {
    v1::Classification* c = out->add_results();
    c->set_label(r.label);
    c->set_score(static_cast<float>(r.score));
    for (const auto& [label, p] : r.probabilities) {
      v1::LabelScore* score = c->add_scores();
      score->set_label(label);
      score->set_score(static_cast<float>(p));
    }
  }
}

void FillResponse(const engine::TagResponse& in, v1::TagEntitiesResponse* out) {
  for (const engine::TagResult& r : in.results) {
    v1::TaggedText* text = out->add_results();
    for (const engine::Entity& e : r.entities) {
      v1::Entity* entity = text->add_entities();
      entity->set_type(e.type);
      entity->set_start(e.start);
      entity->set_end(e.end);
      entity->set_byte_start(e.byte_start);
      entity->set_byte_end(e.byte_end);
      entity->set_text(e.text);
      entity->set_score(static_cast<float>(e.score));
    }
  }
}

}  // namespace

template <typename Request, typename Response, typename EngineCall>
grpc::ServerUnaryReactor* PromptServiceImpl::ServeTexts(
    grpc::CallbackServerContext* context, const Request& request, Response* response,
    const char* method, absl::string_view task, EngineCall engine_call) {
  auto* reactor = new CancellableUnaryReactor();
  auto recorder = std::make_shared<CallRecorder>(deps_.metrics, method);
  const absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    RETURN_IF_ERROR(ValidateTexts(request.texts(), deps_.limits));
    ASSIGN_OR_RETURN(engine::PromptKey key,
                     ResolveServingVersion(who.tenant_id, request.prompt_name(),
                                           request.version(), task));
    const int64_t version = key.version;
    engine::ClassifyRequest call;
    call.key = std::move(key);
    std::vector<v1::PromptRef> answered;
    RETURN_IF_ERROR(
        ResolveEnsemble(who.tenant_id, request.ensemble(), task, &call.ensemble, &answered));
    call.texts.assign(request.texts().begin(), request.texts().end());
    call.deadline = CallDeadline(*context);
    call.cancelled = reactor->cancelled();
    // Completed from the engine's executor (or at once on an early error).
    engine_call(std::move(call), [reactor, recorder, response, version,
                                  answered = std::move(answered)](auto result) {
      if (result.ok()) {
        response->set_version(version);
        for (const v1::PromptRef& ref : answered) *response->add_ensemble() = ref;
        FillResponse(*result, response);
      }
      reactor->Finish(recorder->Done(result.status()));
    });
    return absl::OkStatus();
  }();
  if (!status.ok()) reactor->Finish(recorder->Done(status));
  return reactor;
}

grpc::ServerUnaryReactor* PromptServiceImpl::Classify(grpc::CallbackServerContext* context,
                                                      const v1::ClassifyRequest* request,
                                                      v1::ClassifyResponse* response) {
  return ServeTexts(context, *request, response, "Classify", "classify",
                    [this](engine::ClassifyRequest call, auto done) {
                      deps_.engine->Classify(std::move(call), std::move(done));
                    });
}

grpc::ServerUnaryReactor* PromptServiceImpl::TagEntities(
    grpc::CallbackServerContext* context, const v1::TagEntitiesRequest* request,
    v1::TagEntitiesResponse* response) {
  return ServeTexts(context, *request, response, "TagEntities", "tag",
                    [this](engine::TagRequest call, auto done) {
                      deps_.engine->TagEntities(std::move(call), std::move(done));
                    });
}

}  // namespace ptune::service
