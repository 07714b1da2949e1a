#include "server/engine/prompt_cache.h"

#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/engine/test_loader.h"
#include "tests/testing/shared_backbone.h"

namespace ptune::engine {
namespace {

using ::ptune::engine::testing::Recipe;
using ::ptune::engine::testing::Shallow;
using ::ptune::engine::testing::TestLoader;

// Waits for one Get answer.
class Answer {
 public:
  PromptCache::Callback Callback() {
    return [this](absl::StatusOr<PromptCache::Model> model) {
      result_ = std::move(model);
      done_.Notify();
    };
  }
  absl::StatusOr<PromptCache::Model> Wait() {
    done_.WaitForNotification();
    return result_;
  }
  bool HasBeenNotified() const { return done_.HasBeenNotified(); }

 private:
  absl::Notification done_;
  absl::StatusOr<PromptCache::Model> result_;
};

class PromptCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backbone_ = ptune::testing::SharedBackbone();
    if (backbone_ == nullptr) GTEST_SKIP() << "backbone not installed";
    loader_ = std::make_unique<TestLoader>(backbone_);
    for (const char* name : {"a", "b", "c"}) {
      loader_->Add(Key("t1", name), Recipe{.spec = Shallow(4)});
    }
    loader_->Add(Key("t2", "a"), Recipe{.spec = Shallow(4)});
    bytes_ = PromptCache::ModelBytes(*loader_->Make(Key("t1", "a")));
  }

  static PromptKey Key(const std::string& tenant, const std::string& name) {
    return PromptKey{tenant, name, 1};
  }

  PromptCache::Model GetSync(PromptCache& cache, const PromptKey& key) {
    Answer answer;
    cache.Get(key, answer.Callback());
    absl::StatusOr<PromptCache::Model> model = answer.Wait();
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *model : nullptr;
  }

  const backbone::Backbone* backbone_ = nullptr;
  std::unique_ptr<TestLoader> loader_;
  int64_t bytes_ = 0;
};

TEST_F(PromptCacheTest, ModelBytesCountPromptAndHead) {
  // 4 x 384 prompt floats + 2 x 384 head weights + 2 biases.
  EXPECT_EQ(bytes_, (4 * 384 + 2 * 384 + 2) * 4);
}

TEST_F(PromptCacheTest, HitAfterMissAndCounters) {
  auto cache = *PromptCache::Create(10 * bytes_, 1, loader_.get());
  PromptCache::Model first = GetSync(*cache, Key("t1", "a"));
  ASSERT_NE(first, nullptr);
  // A hit answers on this thread before Get returns.
  Answer again;
  cache->Get(Key("t1", "a"), again.Callback());
  EXPECT_TRUE(again.HasBeenNotified());
  EXPECT_EQ(*again.Wait(), first);
  const CacheStats stats = cache->stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.resident_prompts, 1);
  EXPECT_EQ(stats.resident_bytes, bytes_);
  EXPECT_EQ(loader_->loads(Key("t1", "a")), 1);
}

TEST_F(PromptCacheTest, ConcurrentMissesLoadOnce) {
  auto cache = *PromptCache::Create(10 * bytes_, 3, loader_.get());
  loader_->CloseGate();
  std::vector<std::unique_ptr<Answer>> answers;
  for (int i = 0; i < 5; ++i) {
    answers.push_back(std::make_unique<Answer>());
    cache->Get(Key("t1", "a"), answers.back()->Callback());
  }
  for (const auto& answer : answers) EXPECT_FALSE(answer->HasBeenNotified());
  loader_->OpenGate();
  PromptCache::Model model = *answers[0]->Wait();
  for (const auto& answer : answers) EXPECT_EQ(*answer->Wait(), model);
  EXPECT_EQ(loader_->loads(Key("t1", "a")), 1);
  EXPECT_EQ(cache->stats().misses, 5);
}

TEST_F(PromptCacheTest, EvictsLeastRecentlyUsedUnderByteBudget) {
  auto cache = *PromptCache::Create(2 * bytes_ + bytes_ / 2, 1, loader_.get());
  PromptCache::Model a = GetSync(*cache, Key("t1", "a"));
  GetSync(*cache, Key("t1", "b"));
  GetSync(*cache, Key("t1", "a"));  // a is now the most recent
  GetSync(*cache, Key("t1", "c"));  // over budget: b goes
  CacheStats stats = cache->stats();
  EXPECT_EQ(stats.evictions, 1);
  EXPECT_EQ(stats.resident_prompts, 2);
  EXPECT_EQ(stats.resident_bytes, 2 * bytes_);
  EXPECT_EQ(cache->Peek(Key("t1", "b")), nullptr);
  EXPECT_EQ(cache->Peek(Key("t1", "a")), a);
  EXPECT_NE(cache->Peek(Key("t1", "c")), nullptr);
  // b is loaded again on its next use; now c is the least recent... after
  // the two Peeks above, the order is c, a: loading b evicts a.
  GetSync(*cache, Key("t1", "b"));
  EXPECT_EQ(loader_->loads(Key("t1", "b")), 2);
  EXPECT_EQ(cache->stats().evictions, 2);
  EXPECT_EQ(cache->Peek(Key("t1", "a")), nullptr);
  // The evicted model is still usable by whoever holds it.
  EXPECT_EQ(a->labels().size(), 2u);
  EXPECT_TRUE(a->PromptTensor().defined());
}

TEST_F(PromptCacheTest, EvictPromptAndTenant) {
  auto cache = *PromptCache::Create(10 * bytes_, 1, loader_.get());
  GetSync(*cache, Key("t1", "a"));
  GetSync(*cache, Key("t1", "b"));
  GetSync(*cache, Key("t2", "a"));
  cache->Evict(Key("t1", "a"));
  EXPECT_EQ(cache->Peek(Key("t1", "a")), nullptr);
  EXPECT_EQ(cache->stats().resident_prompts, 2);
  cache->EvictTenant("t1");
  EXPECT_EQ(cache->Peek(Key("t1", "b")), nullptr);
  EXPECT_NE(cache->Peek(Key("t2", "a")), nullptr);
  const CacheStats stats = cache->stats();
  EXPECT_EQ(stats.resident_prompts, 1);
  EXPECT_EQ(stats.resident_bytes, bytes_);
  EXPECT_EQ(stats.evictions, 0);  // explicit evictions are not budget ones
}

TEST_F(PromptCacheTest, EvictDuringLoadAnswersButDoesNotKeep) {
  auto cache = *PromptCache::Create(10 * bytes_, 1, loader_.get());
  loader_->CloseGate();
  Answer answer;
  cache->Get(Key("t1", "a"), answer.Callback());
  cache->Evict(Key("t1", "a"));
  loader_->OpenGate();
  EXPECT_TRUE(answer.Wait().ok());
  cache->Shutdown();  // the loader has finished inserting (or not)
  EXPECT_EQ(cache->stats().resident_prompts, 0);
}

TEST_F(PromptCacheTest, LoadFailureReachesEveryWaiter) {
  auto cache = *PromptCache::Create(10 * bytes_, 1, loader_.get());
  Answer answer;
  cache->Get(Key("nobody", "x"), answer.Callback());
  EXPECT_EQ(answer.Wait().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache->stats().load_failures, 1);
  EXPECT_EQ(cache->stats().resident_prompts, 0);
}

TEST_F(PromptCacheTest, ShutdownAnswersQueuedLoads) {
  auto cache = *PromptCache::Create(10 * bytes_, 1, loader_.get());
  loader_->CloseGate();
  Answer first, second;
  cache->Get(Key("t1", "a"), first.Callback());   // taken by the thread
  cache->Get(Key("t1", "b"), second.Callback());  // queued behind it
  // Let the loader thread take the first key before shutting down.
  while (loader_->total_loads() == 0) absl::SleepFor(absl::Milliseconds(1));
  std::thread opener([&] {
    absl::SleepFor(absl::Milliseconds(20));
    loader_->OpenGate();
  });
  cache->Shutdown();
  opener.join();
  EXPECT_TRUE(first.Wait().ok());
  EXPECT_EQ(second.Wait().status().code(), absl::StatusCode::kUnavailable);
  Answer late;
  cache->Get(Key("t1", "c"), late.Callback());
  EXPECT_EQ(late.Wait().status().code(), absl::StatusCode::kUnavailable);
}

TEST(PromptCacheCreate, RejectsBadOptions) {
  EXPECT_FALSE(PromptCache::Create(0, 1, nullptr).ok());
  EXPECT_FALSE(PromptCache::Create(100, 0, nullptr).ok());
  EXPECT_FALSE(PromptCache::Create(100, 1, nullptr).ok());
}

}  // namespace
}  // namespace ptune::engine
