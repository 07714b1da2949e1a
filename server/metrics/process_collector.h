// The standard process_* metrics of a Prometheus client (as the Go and
// Python clients export them), read from /proc at every scrape: CPU seconds,
// resident and virtual memory, open and maximum file descriptors, start
// time. prometheus-cpp has no process collector. Linux only: elsewhere the
// families are empty.
//
// Thread-safety: Collect is thread-safe (it only reads /proc).
#ifndef PTUNE_SERVER_METRICS_PROCESS_COLLECTOR_H_
#define PTUNE_SERVER_METRICS_PROCESS_COLLECTOR_H_

#include <memory>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace ptune::metrics {

//   process_cpu_seconds_total          counter  user + system CPU time
//   process_resident_memory_bytes      gauge
//   process_virtual_memory_bytes       gauge
//   process_open_fds                   gauge
//   process_max_fds                    gauge    the soft RLIMIT_NOFILE
//   process_start_time_seconds         gauge    Unix time the process started
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Several collectables served as one (e.g. a Registry and a
// ProcessCollector), in order.
class CombinedCollectable : public prometheus::Collectable {
 public:
  explicit CombinedCollectable(std::vector<std::shared_ptr<prometheus::Collectable>> parts)
      : parts_(std::move(parts)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::vector<std::shared_ptr<prometheus::Collectable>> parts_;
};

}  // namespace ptune::metrics

#endif  // PTUNE_SERVER_METRICS_PROCESS_COLLECTOR_H_
