// Classify and TagEntities: resolve the prompt version, hand the texts to the
// engine, and finish the call from the engine's completion callback.
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/service/prompt_service.h"

namespace ptune::service {

absl::StatusOr<int64_t> PromptServiceImpl::ResolveServingVersion(
    const std::string& tenant, const std::string& name, int64_t version,
    absl::string_view task) {
  RETURN_IF_ERROR(ValidateName(name, "prompt_name"));
  if (version < 0) return absl::InvalidArgumentError("version must be >= 0");
  std::optional<int> wanted;
  if (version > 0) wanted = static_cast<int>(version);
  absl::StatusOr<store::PromptVersion> prompt = deps_.store->GetPrompt(tenant, name, wanted);
  if (absl::IsNotFound(prompt.status()) && !wanted.has_value()) {
    // A name whose first version is still training has no ready version.
    absl::StatusOr<std::vector<store::PromptSummary>> all = deps_.store->ListPrompts(tenant);
    if (all.ok()) {
      for (const store::PromptSummary& summary : *all) {
        if (summary.name == name) {
          return absl::FailedPreconditionError(absl::StrCat(
              "prompt ", name, " has no ready version yet (still training or failed)"));
        }
      }
    }
  }
  if (!prompt.ok()) return prompt.status();
  if (prompt->state != store::PromptState::kReady) {
    return absl::FailedPreconditionError(
        absl::StrCat("prompt ", name, " version ", prompt->version, " is ",
                     store::PromptStateName(prompt->state), ", not ready"));
  }
  if (prompt->task != task) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt ", name, " is a ", prompt->task, " prompt; ",
        task == "classify" ? "Classify needs a classify prompt"
                           : "TagEntities needs a tag prompt"));
  }
  return prompt->version;
}

grpc::ServerUnaryReactor* PromptServiceImpl::Classify(
    grpc::CallbackServerContext* context, const v1::ClassifyRequest* request,
    v1::ClassifyResponse* response) {
  auto* reactor = new CancellableUnaryReactor();
  auto recorder = std::make_shared<CallRecorder>(deps_.metrics, "Classify");
  absl::StatusOr<int64_t> version = [&]() -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    RETURN_IF_ERROR(ValidateTexts(request->texts(), deps_.limits));
    ASSIGN_OR_RETURN(int64_t v, ResolveServingVersion(who.tenant_id, request->prompt_name(),
                                                      request->version(), "classify"));
    engine::ClassifyRequest call;
    call.key = {who.tenant_id, request->prompt_name(), v};
    call.texts.assign(request->texts().begin(), request->texts().end());
    call.deadline = CallDeadline(*context);
    call.cancelled = reactor->cancelled();
    deps_.engine->Classify(
        std::move(call), [reactor, recorder, response,
                          v](absl::StatusOr<engine::ClassifyResponse> result) {
          if (result.ok()) {
            response->set_version(v);
            for (const engine::ClassifyResult& r : result->results) {
              v1::Classification* out = response->add_results();
              out->set_label(r.label);
              out->set_score(static_cast<float>(r.score));
              for (const auto& [label, p] : r.probabilities) {
                v1::LabelScore* score = out->add_scores();
                score->set_label(label);
                score->set_score(static_cast<float>(p));
              }
            }
          }
          reactor->Finish(recorder->Done(result.status()));
        });
    return v;
  }();
  if (!version.ok()) reactor->Finish(recorder->Done(version.status()));
  return reactor;
}

grpc::ServerUnaryReactor* PromptServiceImpl::TagEntities(
    grpc::CallbackServerContext* context, const v1::TagEntitiesRequest* request,
    v1::TagEntitiesResponse* response) {
  auto* reactor = new CancellableUnaryReactor();
  auto recorder = std::make_shared<CallRecorder>(deps_.metrics, "TagEntities");
  absl::StatusOr<int64_t> version = [&]() -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(auth::Principal who, Authorize(deps_, *context, false));
    RETURN_IF_ERROR(ValidateTexts(request->texts(), deps_.limits));
    ASSIGN_OR_RETURN(int64_t v, ResolveServingVersion(who.tenant_id, request->prompt_name(),
                                                      request->version(), "tag"));
    engine::TagRequest call;
    call.key = {who.tenant_id, request->prompt_name(), v};
    call.texts.assign(request->texts().begin(), request->texts().end());
    call.deadline = CallDeadline(*context);
    call.cancelled = reactor->cancelled();
    deps_.engine->TagEntities(
        std::move(call),
        [reactor, recorder, response, v](absl::StatusOr<engine::TagResponse> result) {
          if (result.ok()) {
            response->set_version(v);
            for (const engine::TagResult& r : result->results) {
              v1::TaggedText* text = response->add_results();
              for (const engine::Entity& e : r.entities) {
                v1::Entity* out = text->add_entities();
                out->set_type(e.type);
                out->set_start(e.start);
                out->set_end(e.end);
                out->set_byte_start(e.byte_start);
                out->set_byte_end(e.byte_end);
                out->set_text(e.text);
                out->set_score(static_cast<float>(e.score));
              }
            }
          }
          reactor->Finish(recorder->Done(result.status()));
        });
    return v;
  }();
  if (!version.ok()) reactor->Finish(recorder->Done(version.status()));
  return reactor;
}

}  // namespace ptune::service
