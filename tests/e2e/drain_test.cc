// SIGTERM as Kubernetes sends it: health turns NOT_SERVING at once, the
// server keeps serving every call for --drain_s, then stops and exits 0.
#include <signal.h>

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/cli_checks.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/health_check.h"
#include "tests/testing/test_paths.h"

namespace ptune::e2e {
namespace {

TEST(DrainTest, NotServingFirstThenEveryCallSucceedsThroughTheDrainPeriod) {
  if (ptune::testing::BackboneDir().empty()) GTEST_SKIP() << "no backbone";
  auto h = Harness::Create(DefaultHarnessOptions({"--drain_s=4"}));
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_TRUE((*h)->StartServer().ok());
  absl::StatusOr<Tenant> alice = (*h)->CreateTenant("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  const CommandResult trained = (*h)->Cli(
      alice->key, {"train", "--name", "s", "--task", "classify", "--train",
                   Example("sentiment.tsv"), "--epochs", "1", "--length", "4", "--wait"});
  ASSERT_EQ(trained.exit_code(), 0) << trained.DebugString();
  const std::string address = (*h)->server().address();
  EXPECT_EQ(*CheckHealth(address), "SERVING");

  const absl::Time signalled = absl::Now();
  (*h)->server().process().Signal(SIGTERM);
  // NOT_SERVING within a moment of the signal...
  absl::StatusOr<std::string> health;
  for (int i = 0; i < 50; ++i) {
    health = CheckHealth(address);
    if (health.ok() && *health == "NOT_SERVING") break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "NOT_SERVING");
  // ... and every call still served until the drain period ends.
  int served = 0;
  while (absl::Now() - signalled < absl::Seconds(3)) {
    const CommandResult r = (*h)->Cli(alice->key, {"classify", "--prompt", "s", "fine"});
    EXPECT_EQ(r.exit_code(), 0) << "a call failed during the drain: " << r.DebugString();
    ++served;
  }
  EXPECT_GE(served, 2);
  const std::optional<ExitStatus> ended = (*h)->server().process().Wait(absl::Seconds(60));
  ASSERT_TRUE(ended.has_value()) << "the server did not exit";
  EXPECT_TRUE(ended->exited && ended->code == 0) << ended->DebugString();
  EXPECT_GE(absl::Now() - signalled, absl::Seconds(4));  // it served the whole period
  EXPECT_FALSE(CheckHealth(address).ok());               // and then stopped listening
}

}  // namespace
}  // namespace ptune::e2e
