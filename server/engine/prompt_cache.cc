#include "server/engine/prompt_cache.h"

#include <utility>

#include <ATen/core/Tensor.h>

#include "absl/strings/str_cat.h"

namespace ptune::engine {

absl::StatusOr<std::unique_ptr<PromptCache>> PromptCache::Create(
    int64_t max_bytes, int loader_threads, PromptLoader* loader,
    at::ScalarType serving_dtype) {
  if (max_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt cache bytes must be positive, got ", max_bytes));
  }
  if (loader_threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "loader threads must be at least 1, got ", loader_threads));
  }
  if (loader == nullptr) return absl::InvalidArgumentError("null prompt loader");
  std::unique_ptr<PromptCache> cache(new PromptCache(max_bytes, loader, serving_dtype));
  absl::MutexLock lock(&cache->join_mu_);
  for (int i = 0; i < loader_threads; ++i) {
    cache->threads_.emplace_back([c = cache.get()] { c->LoaderLoop(); });
  }
  return cache;
}

PromptCache::PromptCache(int64_t max_bytes, PromptLoader* loader,
                         at::ScalarType serving_dtype)
    : max_bytes_(max_bytes), loader_(loader), serving_dtype_(serving_dtype) {}

PromptCache::~PromptCache() { Shutdown(); }

int64_t PromptCache::ModelBytes(const prompts::PromptModel& model) {
  int64_t bytes = 0;
  for (const at::Tensor& t : model.Parameters()) {
    if (t.defined()) bytes += static_cast<int64_t>(t.numel() * t.element_size());
  }
  return bytes;
}

void PromptCache::Get(const PromptKey& key, Callback done) {
  Model hit;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++stats_.hits;
      hit = it->second->model;
    } else if (shutdown_) {
      // Answered below, outside the lock.
    } else {
      ++stats_.misses;
      auto [pending, inserted] = pending_.try_emplace(key);
      pending->second.waiters.push_back(std::move(done));
      if (inserted) load_queue_.push_back(key);
      return;
    }
  }
  if (hit != nullptr) {
    done(std::move(hit));
  } else {
    done(absl::UnavailableError("prompt cache shut down"));
  }
}

PromptCache::Model PromptCache::Peek(const PromptKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return it->second->model;
}

void PromptCache::LoaderLoop() {
  while (true) {
    PromptKey key;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PromptCache* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return c->shutdown_ || !c->load_queue_.empty();
          },
          this));
      if (load_queue_.empty()) return;  // shut down
      key = std::move(load_queue_.front());
      load_queue_.pop_front();
    }
    absl::StatusOr<std::unique_ptr<prompts::PromptModel>> loaded =
        loader_->Load(key);
    absl::StatusOr<Model> result;
    if (!loaded.ok()) {
      result = loaded.status();
    } else if (*loaded == nullptr) {
      result = absl::InternalError(
          absl::StrCat("loader returned no model for ", key.DebugString()));
    } else if (absl::Status cast = serving_dtype_ == at::kFloat
                                       ? absl::OkStatus()
                                       : (*loaded)->CastForServing(serving_dtype_);
               !cast.ok()) {
      result = cast;
    } else {
      result = Model(std::move(*loaded));
    }
    std::vector<Callback> waiters;
    {
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(key);
      waiters = std::move(it->second.waiters);
      const bool keep = !it->second.evicted;
      pending_.erase(it);
      if (!result.ok()) {
        ++stats_.load_failures;
      } else if (keep) {
        InsertLocked(key, *result, ModelBytes(**result));
      }
    }
    for (Callback& done : waiters) done(result);
  }
}

void PromptCache::InsertLocked(const PromptKey& key, Model model,
                               int64_t bytes) {
  if (auto it = index_.find(key); it != index_.end()) RemoveLocked(it->second);
  lru_.push_front(Resident{key, std::move(model), bytes});
  index_[key] = lru_.begin();
  stats_.resident_bytes += bytes;
  ++stats_.resident_prompts;
  // Least recently used first; the new one stays even if alone over budget.
  while (stats_.resident_bytes > max_bytes_ && lru_.size() > 1) {
    RemoveLocked(std::prev(lru_.end()));
    ++stats_.evictions;
  }
}

void PromptCache::RemoveLocked(std::list<Resident>::iterator it) {
  stats_.resident_bytes -= it->bytes;
  --stats_.resident_prompts;
  index_.erase(it->key);
  lru_.erase(it);
}

void PromptCache::Evict(const PromptKey& key) {
  absl::MutexLock lock(&mu_);
  if (auto it = index_.find(key); it != index_.end()) RemoveLocked(it->second);
  if (auto it = pending_.find(key); it != pending_.end()) {
    it->second.evicted = true;
  }
}

void PromptCache::EvictTenant(const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->key.tenant == tenant) RemoveLocked(it);
    it = next;
  }
  for (auto& [key, pending] : pending_) {
    if (key.tenant == tenant) pending.evicted = true;
  }
}

CacheStats PromptCache::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void PromptCache::Shutdown() {
  absl::MutexLock join_lock(&join_mu_);  // one caller joins
  std::vector<Callback> unanswered;
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    for (const PromptKey& key : load_queue_) {
      auto it = pending_.find(key);
      for (Callback& done : it->second.waiters) {
        unanswered.push_back(std::move(done));
      }
      pending_.erase(it);
    }
    load_queue_.clear();
  }
  for (Callback& done : unanswered) {
    done(absl::UnavailableError("prompt cache shut down"));
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace ptune::engine
