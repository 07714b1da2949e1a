#include "server/service/health_watchdog.h"

#include <vector>

#include "gtest/gtest.h"

namespace ptune::service {
namespace {

TEST(HealthWatchdogTest, NotServingWhileATurnExceedsTheTimeoutThenServingAgain) {
  absl::Duration turn = absl::ZeroDuration();
  std::vector<bool> changes;
  HealthWatchdog watchdog(
      absl::Seconds(30), [&] { return turn; },
      [&](bool serving) { changes.push_back(serving); });
  EXPECT_TRUE(watchdog.Check());
  turn = absl::Seconds(29);  // a long but bounded turn
  EXPECT_TRUE(watchdog.Check());
  turn = absl::Seconds(31);
  EXPECT_FALSE(watchdog.Check());
  EXPECT_FALSE(watchdog.Check());  // no repeated notification
  EXPECT_FALSE(watchdog.serving());
  turn = absl::ZeroDuration();  // the turn ended
  EXPECT_TRUE(watchdog.Check());
  EXPECT_EQ(changes, (std::vector<bool>{false, true}));
}

}  // namespace
}  // namespace ptune::service
