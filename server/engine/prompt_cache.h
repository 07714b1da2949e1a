// PromptCache: the prompts resident for serving, an LRU bounded by bytes
// (prompt + head tensors). A miss is loaded through a PromptLoader on one of
// the cache's loader threads, never on the caller's or the executor's thread;
// concurrent misses for one key share one load. Models are handed out as
// shared_ptr, so a prompt evicted while a batch uses it stays valid until the
// batch lets it go.
//
// Thread-safety: thread-safe. Ownership: does not own the loader (it must
// outlive the cache); owns its loader threads, joined by Shutdown.
#ifndef PTUNE_SERVER_ENGINE_PROMPT_CACHE_H_
#define PTUNE_SERVER_ENGINE_PROMPT_CACHE_H_

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/prompt_key.h"
#include "server/prompts/prompt_model.h"

namespace ptune::engine {

// Loads a prompt artifact (from the store) on a miss of the prompt cache.
// Called on a loader thread, never on the executor; may block on I/O. Must be
// thread-safe when the cache has several loader threads.
class PromptLoader {
 public:
  virtual ~PromptLoader() = default;
  virtual absl::StatusOr<std::unique_ptr<prompts::PromptModel>> Load(
      const PromptKey& key) = 0;
};

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;     // lookups that had to wait for a load
  int64_t evictions = 0;  // by the byte budget (not EvictPrompt/EvictTenant)
  int64_t load_failures = 0;
  int64_t resident_prompts = 0;
  int64_t resident_bytes = 0;
};

class PromptCache {
 public:
  using Model = std::shared_ptr<const prompts::PromptModel>;
  using Callback = absl::AnyInvocable<void(absl::StatusOr<Model>)>;

  // max_bytes > 0, loader_threads >= 1, loader not null. Loaded models are
  // cast to `serving_dtype` (the backbone's) once, as they enter the cache.
  static absl::StatusOr<std::unique_ptr<PromptCache>> Create(
      int64_t max_bytes, int loader_threads, PromptLoader* loader,
      at::ScalarType serving_dtype = at::kFloat);
  ~PromptCache();  // Shutdown()

  PromptCache(const PromptCache&) = delete;
  PromptCache& operator=(const PromptCache&) = delete;

  // Calls `done` exactly once with the model: at once on this thread on a
  // hit, or later on a loader thread after a miss (with the loader's error,
  // or UNAVAILABLE after Shutdown). A model larger than the whole budget is
  // still served (and kept resident alone until something else is needed).
  void Get(const PromptKey& key, Callback done);

  // The model when resident (counts as a hit and refreshes it), else null
  // without loading.
  Model Peek(const PromptKey& key);

  // Removes a prompt / every prompt of a tenant; a load in flight for it
  // still answers its waiters but is not kept.
  void Evict(const PromptKey& key);
  void EvictTenant(const std::string& tenant);

  CacheStats stats() const;

  // Answers queued loads with UNAVAILABLE, lets loads in progress finish,
  // and joins the loader threads. Idempotent.
  void Shutdown();

  // Bytes a model counts for: its parameters (prompt + head).
  static int64_t ModelBytes(const prompts::PromptModel& model);

 private:
  struct Resident {
    PromptKey key;
    Model model;
    int64_t bytes = 0;
  };
  struct Pending {
    std::vector<Callback> waiters;
    bool evicted = false;  // Evict ran while loading: do not keep the result
  };

  PromptCache(int64_t max_bytes, PromptLoader* loader, at::ScalarType serving_dtype);
  void LoaderLoop();
  void InsertLocked(const PromptKey& key, Model model, int64_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(std::list<Resident>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_bytes_;
  PromptLoader* const loader_;
  const at::ScalarType serving_dtype_;
  absl::Mutex join_mu_;  // serializes Shutdown
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);

  mutable absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::list<Resident> lru_ ABSL_GUARDED_BY(mu_);  // front = most recent
  absl::flat_hash_map<PromptKey, std::list<Resident>::iterator> index_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<PromptKey, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<PromptKey> load_queue_ ABSL_GUARDED_BY(mu_);
  CacheStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ptune::engine

#endif  // PTUNE_SERVER_ENGINE_PROMPT_CACHE_H_
