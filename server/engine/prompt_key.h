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
  // The version's content digest (store::ArtifactDigest): the cache keys on
  // it, so a replica can never serve tensors other than the ones the store
  // names now. Empty: not checked (tests, benchmarks).
  std::string digest;

  std::string DebugString() const {
    return absl::StrCat(tenant, "/", name, "@", version);
  }
  friend bool operator==(const PromptKey& a, const PromptKey& b) {
    return a.version == b.version && a.tenant == b.tenant && a.name == b.name &&
           a.digest == b.digest;
  }
  friend bool operator!=(const PromptKey& a, const PromptKey& b) {
    return !(a == b);
  }
  template <typename H>
  friend H AbslHashValue(H h, const PromptKey& key) {
    return H::combine(std::move(h), key.tenant, key.name, key.version, key.digest);
  }
};

}  // namespace ptune::engine

#endif  // PTUNE_SERVER_ENGINE_PROMPT_KEY_H_
