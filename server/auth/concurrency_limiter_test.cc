#include "server/auth/concurrency_limiter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::auth {
namespace {

using ::testing::HasSubstr;

TEST(ConcurrencyLimiterTest, PerTenantAndTotalLimits) {
  ConcurrencyLimiter limiter("uploads", "--max_uploads", 3, 2);
  auto a1 = limiter.Acquire("a");
  auto a2 = limiter.Acquire("a");
  ASSERT_TRUE(a1.ok() && a2.ok());
  const auto a3 = limiter.Acquire("a");
  EXPECT_EQ(a3.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a3.status().message(), HasSubstr("this tenant has 2 uploads"));
  auto b1 = limiter.Acquire("b");
  ASSERT_TRUE(b1.ok());
  const auto b2 = limiter.Acquire("b");
  EXPECT_THAT(b2.status().message(), HasSubstr("3 uploads are in progress"));
  EXPECT_EQ(limiter.in_progress(), 3);
  a1->reset();  // a finished call frees its place
  EXPECT_TRUE(limiter.Acquire("b").ok());
  EXPECT_EQ(limiter.in_progress(), 2);  // the temporary slot is already gone
}

}  // namespace
}  // namespace ptune::auth
