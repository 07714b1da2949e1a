#include "server/store/caching_store.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/test_store.h"

namespace ptune::store {
namespace {

class CachingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = TestStoreUrl("sqlite");
    ASSERT_TRUE(url.ok());
    auto inner = OpenStore(*url);
    ASSERT_TRUE(inner.ok()) << inner.status();
    // A second writer on the same database stands for another replica.
    auto other = OpenStore(*url);
    ASSERT_TRUE(other.ok());
    other_ = *std::move(other);
    store_ = std::make_unique<CachingStore>(*std::move(inner), absl::Seconds(2),
                                            [this] { return now_; });
    Tenant t;
    t.name = "acme";
    tenant_ = *store_->CreateTenant(t);
    ApiKey key;
    key.tenant_id = tenant_.id;
    key.key_hash = std::string(64, 'a');
    key_ = *store_->CreateApiKey(key);
    PromptVersion p;
    p.tenant_id = tenant_.id;
    p.name = "sentiment";
    p.task = "classify";
    p.state = PromptState::kReady;
    p.artifact_safetensors = "w";
    ASSERT_TRUE(store_->CreatePromptVersion(p).ok());
  }

  // The three reads of one Classify.
  void Serve() {
    ASSERT_TRUE(store_->LookupApiKey(key_.key_hash).ok());
    ASSERT_TRUE(store_->GetTenant(tenant_.id).ok());
    ASSERT_TRUE(store_->GetPromptMetadata(tenant_.id, "sentiment", std::nullopt).ok());
  }

  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
  std::unique_ptr<Store> other_;
  std::unique_ptr<CachingStore> store_;
  Tenant tenant_;
  ApiKey key_;
};

TEST_F(CachingStoreTest, AWarmRequestMakesNoRoundTrip) {
  Serve();
  const int64_t before = store_->DatabaseRoundTrips();
  for (int i = 0; i < 10; ++i) Serve();
  EXPECT_EQ(store_->DatabaseRoundTrips(), before);
  now_ += absl::Seconds(3);  // past the TTL: read again
  Serve();
  EXPECT_GT(store_->DatabaseRoundTrips(), before);
}

TEST_F(CachingStoreTest, LocalWritesDropEntriesAtOnce) {
  Serve();
  ASSERT_TRUE(store_->RevokeApiKey(tenant_.id, key_.id).ok());
  EXPECT_EQ(store_->LookupApiKey(key_.key_hash).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->DeletePrompt(tenant_.id, "sentiment").ok());
  EXPECT_EQ(store_->GetPromptMetadata(tenant_.id, "sentiment", std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CachingStoreTest, RemoteWritesAreSeenWithinTheTtl) {
  Serve();
  ASSERT_TRUE(other_->RevokeApiKey(tenant_.id, key_.id).ok());
  ASSERT_TRUE(other_->DeletePrompt(tenant_.id, "sentiment").ok());
  now_ += absl::Seconds(1);  // within the TTL: still served from memory
  EXPECT_TRUE(store_->LookupApiKey(key_.key_hash).ok());
  now_ += absl::Seconds(1) + absl::Milliseconds(1);  // past it: refused
  EXPECT_EQ(store_->LookupApiKey(key_.key_hash).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetPromptMetadata(tenant_.id, "sentiment", std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CachingStoreTest, TrainingVersionsAreNotCached) {
  PromptVersion p;
  p.tenant_id = tenant_.id;
  p.name = "fresh";
  p.task = "classify";
  p.state = PromptState::kTraining;
  ASSERT_TRUE(store_->CreatePromptVersion(p).ok());
  ASSERT_TRUE(store_->GetPromptMetadata(tenant_.id, "fresh", 1).ok());
  const int64_t before = store_->DatabaseRoundTrips();
  ASSERT_TRUE(store_->GetPromptMetadata(tenant_.id, "fresh", 1).ok());
  EXPECT_GT(store_->DatabaseRoundTrips(), before);
}

}  // namespace
}  // namespace ptune::store
