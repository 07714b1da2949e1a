#include "server/metrics/process_collector.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace ptune::metrics {
namespace {

std::map<std::string, double> Values() {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& family : ProcessCollector().Collect()) {
    EXPECT_EQ(family.metric.size(), 1u) << family.name;
    const prometheus::ClientMetric& m = family.metric.front();
    values[family.name] =
        family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  return values;
}

TEST(ProcessCollectorTest, ReadsThisProcess) {
  std::map<std::string, double> before = Values();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds",
                           "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_EQ(before.count(name), 1u) << name;
  }
  EXPECT_GT(before["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(before["process_virtual_memory_bytes"], before["process_resident_memory_bytes"]);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(before["process_start_time_seconds"], now + 1);
  EXPECT_GT(before["process_start_time_seconds"], now - 3600);
  // An opened file shows; CPU time only grows.
  const int fd = open("/proc/self/stat", O_RDONLY);
  ASSERT_GE(fd, 0);
  volatile double sink = 0;
  for (int i = 0; i < 20000000; ++i) sink = sink + i * 0.5;
  std::map<std::string, double> after = Values();
  close(fd);
  EXPECT_EQ(after["process_open_fds"], before["process_open_fds"] + 1);
  EXPECT_GE(after["process_cpu_seconds_total"], before["process_cpu_seconds_total"]);
}

}  // namespace
}  // namespace ptune::metrics
