// StorePromptLoader: the engine's PromptLoader over the Store — the prompt
// cache calls it on a miss (on a loader thread) and gets a PromptModel built
// from the version's stored artifact.
//
// Thread-safety: thread-safe. Ownership: borrows the store.
#ifndef PTUNE_SERVER_SERVICE_STORE_PROMPT_LOADER_H_
#define PTUNE_SERVER_SERVICE_STORE_PROMPT_LOADER_H_

#include <memory>

#include "server/backbone/backbone.h"
#include "server/engine/engine.h"
#include "server/store/store.h"

namespace ptune::service {

class StorePromptLoader : public engine::PromptLoader {
 public:
  StorePromptLoader(store::Store* store,
                    std::shared_ptr<const backbone::Backbone> backbone)
      : store_(store), backbone_(std::move(backbone)) {}

  // NOT_FOUND for unknown versions; FAILED_PRECONDITION for a version that
  // is not ready (still training, or failed).
  absl::StatusOr<std::unique_ptr<prompts::PromptModel>> Load(
      const engine::PromptKey& key) override;

 private:
  store::Store* const store_;
  const std::shared_ptr<const backbone::Backbone> backbone_;
};

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_STORE_PROMPT_LOADER_H_
