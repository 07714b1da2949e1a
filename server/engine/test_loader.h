// A PromptLoader for the engine tests: hands out PromptModels made with
// PromptModel::Create from a per-key recipe, counts loads, and can hold every
// load at a gate until the test opens it. Test-only.
#ifndef PTUNE_SERVER_ENGINE_TEST_LOADER_H_
#define PTUNE_SERVER_ENGINE_TEST_LOADER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "server/backbone/backbone.h"
#include "server/engine/prompt_cache.h"
#include "server/prompts/prompt_model.h"

namespace ptune::engine::testing {

struct Recipe {
  datasets::Task task = datasets::Task::kClassify;
  std::vector<std::string> labels = {"neg", "pos"};
  prompts::PromptSpec spec;
  uint64_t seed = 1;
  // When set, builds the model instead of PromptModel::Create.
  std::function<std::unique_ptr<prompts::PromptModel>()> make;
};

inline prompts::PromptSpec Shallow(int length) {
  prompts::PromptSpec spec;
  spec.kind = prompts::PromptKind::kShallow;
  spec.length = length;
  spec.init = prompts::PromptInit::kRandom;
  return spec;
}

inline prompts::PromptSpec Deep(int length) {
  prompts::PromptSpec spec;
  spec.kind = prompts::PromptKind::kDeep;
  spec.length = length;
  spec.init = prompts::PromptInit::kRandom;
  return spec;
}

class TestLoader : public PromptLoader {
 public:
  explicit TestLoader(const backbone::Backbone* backbone)
      : backbone_(backbone) {}

  void Add(const PromptKey& key, Recipe recipe) {
    absl::MutexLock lock(&mu_);
    recipes_[key] = std::move(recipe);
  }

  // Loads block until OpenGate() once CloseGate() was called.
  void CloseGate() {
    absl::MutexLock lock(&mu_);
    gate_ = std::make_shared<absl::Notification>();
  }
  void OpenGate() {
    absl::MutexLock lock(&mu_);
    if (gate_) gate_->Notify();
  }

  // A fresh model from the recipe, as Load would return it.
  std::unique_ptr<prompts::PromptModel> Make(const PromptKey& key) {
    Recipe recipe;
    {
      absl::MutexLock lock(&mu_);
      recipe = recipes_.at(key);
    }
    if (recipe.make) return recipe.make();
    auto model = prompts::PromptModel::Create(*backbone_, recipe.task,
                                              recipe.labels, recipe.spec,
                                              recipe.seed);
    return model.ok() ? std::move(*model) : nullptr;
  }

  absl::StatusOr<std::unique_ptr<prompts::PromptModel>> Load(
      const PromptKey& key) override {
    std::shared_ptr<absl::Notification> gate;
    {
      absl::MutexLock lock(&mu_);
      ++loads_[key];
      ++total_loads_;
      gate = gate_;
      if (!recipes_.contains(key)) {
        return absl::NotFoundError(
            absl::StrCat("no prompt ", key.DebugString()));
      }
    }
    if (gate) gate->WaitForNotification();
    auto model = Make(key);
    if (model == nullptr) return absl::InternalError("create failed");
    return model;
  }

  int loads(const PromptKey& key) {
    absl::MutexLock lock(&mu_);
    auto it = loads_.find(key);
    return it == loads_.end() ? 0 : it->second;
  }
  int total_loads() {
    absl::MutexLock lock(&mu_);
    return total_loads_;
  }

 private:
  const backbone::Backbone* backbone_;
  absl::Mutex mu_;
  absl::flat_hash_map<PromptKey, Recipe> recipes_;
  absl::flat_hash_map<PromptKey, int> loads_;
  int total_loads_ = 0;
  std::shared_ptr<absl::Notification> gate_;
};

}  // namespace ptune::engine::testing

#endif  // PTUNE_SERVER_ENGINE_TEST_LOADER_H_
