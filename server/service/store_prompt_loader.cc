#include "server/service/store_prompt_loader.h"

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"

namespace ptune::service {

absl::StatusOr<std::unique_ptr<prompts::PromptModel>> StorePromptLoader::Load(
    const engine::PromptKey& key) {
  ASSIGN_OR_RETURN(store::PromptVersion version,
                   store_->GetPrompt(key.tenant, key.name, static_cast<int>(key.version)));
  if (!key.digest.empty() && version.digest != key.digest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "prompt ", key.name, " version ", key.version,
        " changed in the store since it was resolved; retry"));
  }
  if (version.state != store::PromptState::kReady) {
    return absl::FailedPreconditionError(
        absl::StrCat("prompt ", key.name, " version ", key.version, " is ",
                     store::PromptStateName(version.state), ", not ready"));
  }
  return prompts::PromptModel::Deserialize(
      *backbone_,
      {std::move(version.artifact_safetensors), std::move(version.artifact_json)},
      absl::StrCat("prompt ", key.name, " version ", key.version));
}

}  // namespace ptune::service
