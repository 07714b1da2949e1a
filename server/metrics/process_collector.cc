#include "server/metrics/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "prometheus/client_metric.h"

namespace ptune::metrics {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// Entries of /proc/self/fd, less the one opendir itself holds.
int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

// Seconds since boot when the system booted: /proc/stat's btime.
double BootTime() {
  std::ifstream stat("/proc/stat");
  std::string key;
  while (stat >> key) {
    if (key == "btime") {
      double btime = 0;
      stat >> btime;
      return btime;
    }
    std::string rest;
    std::getline(stat, rest);
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold
  // spaces: state is field 3; utime 14, stime 15, starttime 22, vsize 23,
  // rss 24 (proc(5)).
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  if (f.size() < 22) return out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const auto at = [&](int field) { return std::stod(f[field - 3]); };
  out.push_back(Family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                       prometheus::MetricType::Counter, (at(14) + at(15)) / ticks));
  out.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                       prometheus::MetricType::Gauge, at(24) * page));
  out.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       prometheus::MetricType::Gauge, at(23)));
  out.push_back(Family("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.",
                       prometheus::MetricType::Gauge, BootTime() + at(22) / ticks));
  const int fds = OpenFds();
  if (fds >= 0) {
    out.push_back(Family("process_open_fds", "Number of open file descriptors.",
                         prometheus::MetricType::Gauge, fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(Family("process_max_fds", "Maximum number of open file descriptors.",
                         prometheus::MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  return out;
}

std::vector<prometheus::MetricFamily> CombinedCollectable::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  for (const auto& part : parts_) {
    std::vector<prometheus::MetricFamily> families = part->Collect();
    out.insert(out.end(), std::make_move_iterator(families.begin()),
               std::make_move_iterator(families.end()));
  }
  return out;
}

}  // namespace ptune::metrics
