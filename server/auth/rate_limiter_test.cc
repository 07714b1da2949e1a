#include "server/auth/rate_limiter.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/batching/clock.h"

namespace ptune::auth {
namespace {

using ::testing::HasSubstr;

class RateLimiterTest : public ::testing::Test {
 protected:
  // How many of `n` immediate calls are admitted.
  int AdmitMany(int n, const std::string& tenant, double rate, double burst) {
    int admitted = 0;
    for (int i = 0; i < n; ++i)
      admitted += limiter_.Admit(tenant, rate, burst).ok();
    return admitted;
  }

  batching::FakeClock clock_;
  RateLimiter limiter_{&clock_};
};

TEST_F(RateLimiterTest, AdmitsTheBurstThenRefusesWithTheRate) {
  EXPECT_EQ(AdmitMany(3, "a", 1.0, 3), 3);
  absl::Status status = limiter_.Admit("a", 1.0, 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(),
              HasSubstr("rate limit of 1 requests/s exceeded"));
  EXPECT_THAT(status.message(), HasSubstr("retry in 1000 ms"));
}

TEST_F(RateLimiterTest, RefillsAtTheRate) {
  EXPECT_EQ(AdmitMany(2, "a", 2.0, 2), 2);
  clock_.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(limiter_.Admit("a", 2.0, 2).ok());
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(limiter_.Admit("a", 2.0, 2).ok());
  EXPECT_FALSE(limiter_.Admit("a", 2.0, 2).ok());
  // Refused calls take no token: after 0.5 s exactly one more is admitted.
  clock_.Advance(absl::Milliseconds(500));
  EXPECT_EQ(AdmitMany(5, "a", 2.0, 2), 1);
}

TEST_F(RateLimiterTest, RefillStopsAtTheBurst) {
  EXPECT_EQ(AdmitMany(3, "a", 10.0, 3), 3);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(AdmitMany(10, "a", 10.0, 3), 3);
}

TEST_F(RateLimiterTest, FractionalRates) {
  EXPECT_TRUE(limiter_.Admit("a", 0.5, 1).ok());
  clock_.Advance(absl::Seconds(1));
  absl::Status status = limiter_.Admit("a", 0.5, 1);
  EXPECT_THAT(status.message(), HasSubstr("rate limit of 0.5 requests/s"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter_.Admit("a", 0.5, 1).ok());
}

TEST_F(RateLimiterTest, TenantsHaveSeparateBuckets) {
  EXPECT_EQ(AdmitMany(5, "a", 1.0, 2), 2);
  EXPECT_EQ(AdmitMany(5, "b", 1.0, 4), 4);
  EXPECT_FALSE(limiter_.Admit("a", 1.0, 2).ok());
}

TEST_F(RateLimiterTest, NoRateMeansNoLimit) {
  EXPECT_EQ(AdmitMany(1000, "a", 0.0, 0), 1000);
  EXPECT_EQ(AdmitMany(1000, "a", -1.0, 5), 1000);
}

TEST_F(RateLimiterTest, BurstBelowOneStillAdmitsOne) {
  EXPECT_EQ(AdmitMany(3, "a", 1.0, 0), 1);
}

TEST_F(RateLimiterTest, LowerQuotaTakesEffectAtOnce) {
  EXPECT_EQ(AdmitMany(1, "a", 100.0, 100), 1);  // 99 tokens left
  EXPECT_EQ(AdmitMany(10, "a", 1.0, 2), 2);     // clamped to the new burst
}

TEST_F(RateLimiterTest, ForgetsRefilledBuckets) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(limiter_.Admit(absl::StrCat("t", i), 1.0, 5).ok());
  }
  EXPECT_EQ(limiter_.tracked_tenants(), 100u);
  clock_.Advance(absl::Seconds(10));
  // Enough calls to trigger a prune; "busy" keeps an empty bucket.
  int busy_admitted = 0;
  for (int i = 0; i < 5000; ++i)
    busy_admitted += limiter_.Admit("busy", 1.0, 5).ok();
  EXPECT_EQ(busy_admitted, 5);
  EXPECT_EQ(limiter_.tracked_tenants(), 1u);
  // A pruned tenant starts again with a full bucket, as it would have had.
  EXPECT_EQ(AdmitMany(10, "t0", 1.0, 5), 5);
}

TEST_F(RateLimiterTest, ConcurrentCallersShareOneBucket) {
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (limiter_.Admit("a", 1.0, 100).ok()) ++admitted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 100);
}

}  // namespace
}  // namespace ptune::auth
