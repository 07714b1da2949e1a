// PromptKey: names one served prompt version. A plain value type, hashable
// with absl::Hash.
#ifndef PTUNE_SERVER_ENGINE_PROMPT_KEY_H_
#define PTUNE_SERVER_ENGINE_PROMPT_KEY_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ptune::engine {

struct PromptKey {
  std::string tenant;
  std::string name;
  int64_t version = 0;  // already resolved by the caller (no "latest")

  std::string DebugString() const {
    return absl::StrCat(tenant, "/", name, "@", version);
  }
  friend bool operator==(const PromptKey& a, const PromptKey& b) {
    return a.version == b.version && a.tenant == b.tenant && a.name == b.name;
  }
  friend bool operator!=(const PromptKey& a, const PromptKey& b) {
    return !(a == b);
  }
  template <typename H>
  friend H AbslHashValue(H h, const PromptKey& key) {
    return H::combine(std::move(h), key.tenant, key.name, key.version);
  }
};

}  // namespace ptune::engine

#endif  // PTUNE_SERVER_ENGINE_PROMPT_KEY_H_
