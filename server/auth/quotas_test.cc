#include "server/auth/quotas.h"

#include <cstdint>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::auth {
namespace {

using ::testing::HasSubstr;

TEST(QuotasTest, PromptQuota) {
  EXPECT_TRUE(CheckPromptQuota(0, 10).ok());
  EXPECT_TRUE(CheckPromptQuota(9, 10).ok());
  absl::Status status = CheckPromptQuota(10, 10);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("prompt quota exceeded"));
  EXPECT_THAT(status.message(), HasSubstr("max_prompts is 10"));
  EXPECT_TRUE(CheckPromptQuota(1000, 0).ok());  // no limit
}

TEST(QuotasTest, ConcurrentJobQuota) {
  EXPECT_TRUE(CheckConcurrentJobQuota(1, 2).ok());
  absl::Status status = CheckConcurrentJobQuota(2, 2);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("max_concurrent_jobs is 2"));
  EXPECT_TRUE(CheckConcurrentJobQuota(50, 0).ok());
}

TEST(QuotasTest, StorageQuota) {
  EXPECT_TRUE(CheckStorageQuota(600, 400, 1000).ok());
  absl::Status status = CheckStorageQuota(600, 401, 1000);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("max_stored_bytes of 1000"));
  EXPECT_THAT(status.message(), HasSubstr("600 bytes stored + 401 new bytes"));
  // Already over (the quota was lowered): deleting (0 new bytes) still works.
  EXPECT_TRUE(CheckStorageQuota(2000, 0, 1000).ok());
  EXPECT_FALSE(CheckStorageQuota(2000, 1, 1000).ok());
  // No overflow near the top of int64.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_FALSE(CheckStorageQuota(kMax - 1, kMax - 1, kMax - 1).ok());
  EXPECT_TRUE(CheckStorageQuota(kMax, kMax, 0).ok());
}

TEST(QuotasTest, EffectiveQuotasFillUnsetFieldsFromDefaults) {
  const QuotaLimits defaults{100, 2, 1 << 30, 50.0, 100};
  const QuotaLimits tenant{5, 0, 0, 2.5, 0};
  const QuotaLimits q = EffectiveQuotas(tenant, defaults);
  EXPECT_EQ(q.max_prompts, 5);
  EXPECT_EQ(q.max_concurrent_jobs, 2);
  EXPECT_EQ(q.max_stored_bytes, 1 << 30);
  EXPECT_EQ(q.requests_per_second, 2.5);
  EXPECT_EQ(q.burst, 100);
}

}  // namespace
}  // namespace ptune::auth
