#include "tests/e2e/prometheus_text.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::e2e {
namespace {

TEST(PrometheusTextTest, ParsesSamplesLabelsAndComments) {
  const std::string text =
      "# HELP ptune_requests_total Requests by method and code.\n"
      "# TYPE ptune_requests_total counter\n"
      "ptune_requests_total{code=\"OK\",method=\"Classify\"} 3\n"
      "ptune_requests_total{code=\"NOT_FOUND\",method=\"Classify\"} 1\n"
      "ptune_queue_depth 0\n"
      "h_bucket{le=\"+Inf\",note=\"a \\\"q\\\" \\\\ b\"} 2.5e-1 1700000000000\n"
      "h_sum NaN\n";
  auto samples = ParsePrometheusText(text);
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 5u);
  EXPECT_EQ(FindSample(*samples, "ptune_requests_total",
                       {{"method", "Classify"}, {"code", "OK"}}),
            3.0);
  EXPECT_EQ(FindSample(*samples, "ptune_requests_total", {{"code", "NOT_FOUND"}}), 1.0);
  EXPECT_EQ(FindSample(*samples, "ptune_queue_depth", {}), 0.0);
  EXPECT_EQ(FindSample(*samples, "h_bucket", {{"note", "a \"q\" \\ b"}}), 0.25);
  EXPECT_TRUE(std::isnan(*FindSample(*samples, "h_sum", {})));
  EXPECT_EQ(FindSample(*samples, "ptune_requests_total", {{"code", "INTERNAL"}}),
            std::nullopt);
}

TEST(PrometheusTextTest, RefusesMalformedLines) {
  for (const char* bad : {"name{a=\"x\"}", "name 1 2 3", "name{a=x} 1",
                          "name{a=\"x\" 1", "9name 1", "name one",
                          "# TYPE name countr", "name{a=\"x\",a=\"y\"} 1",
                          "name{a=\"\\t\"} 1"}) {
    EXPECT_FALSE(ParsePrometheusText(std::string(bad) + "\n").ok()) << bad;
  }
}

}  // namespace
}  // namespace ptune::e2e
