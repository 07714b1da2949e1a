#ifndef PTUNE_SERVER_METRICS_SERVICE_METRICS_H_
#define PTUNE_SERVER_METRICS_SERVICE_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ptune::metrics {

// Values of the ptune_build_info series.
struct BuildInfo {
  std::string version;   // e.g. "0.1.0"
  std::string backbone;  // e.g. "all-MiniLM-L6-v2"
};

// Cumulative prompt-cache figures as an engine exposes them (totals since the
// cache was created, plus current residency).
struct PromptCacheTotals {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  int64_t resident_prompts = 0;
  int64_t resident_bytes = 0;
};

// The label values of ptune_jobs{state}: the proto's JobState names, lower
// case and without the prefix. SetJobs() creates these series at 0 up front so
// that alerts over them have a series to evaluate.
inline constexpr std::string_view kJobStates[] = {
    "queued", "running", "succeeded", "failed", "cancelled"};

// All Prometheus families of the service, registered in a registry this
// object owns, with typed recording methods so that callers never touch
// family names or labels. Construct one per server and inject it (never a
// singleton); tests construct their own. Families (ARCHITECTURE.md §8):
//
//   ptune_requests_total{method,code}        counter
//   ptune_request_duration_seconds{method}   histogram (unary calls)
//   ptune_stream_duration_seconds{method}    histogram (WatchJob streams)
//   ptune_rejections_total{reason}           counter: rate_limit,
//                                            prompt_quota, job_quota,
//                                            storage_quota, concurrency,
//                                            queue_full, tenant_queue
//   ptune_tenant_requests_total{tenant}      counter, at most
//                                            max_tenant_series tenants (the
//                                            rest as tenant="other")
//   ptune_jobs_finished_total{state}         counter (this replica's runs)
//   ptune_job_duration_seconds{state}        histogram
//   ptune_queue_depth                        gauge
//   ptune_queue_wait_seconds                 histogram
//   ptune_batch_size                         histogram (rows)
//   ptune_batch_tokens                       histogram (real tokens)
//   ptune_batch_padding_ratio                histogram
//   ptune_forward_duration_seconds           histogram
//   ptune_prompt_cache_{hits,misses,evictions}_total  counters
//   ptune_prompt_cache_resident_prompts      gauge
//   ptune_prompt_cache_resident_bytes        gauge
//   ptune_jobs{state}                        gauge
//   ptune_training_examples_total            counter
//   ptune_device_memory_bytes{device,kind}   gauge: cpu/resident (host RSS);
//                                            on CUDA builds also cuda:N/
//                                            allocated|reserved|total
//   ptune_build_info{version,backbone}       gauge, always 1
//   process_*                                ProcessCollector, in
//                                            collectable()
//
// Bucket boundaries come from buckets.h.
//
// Thread-safety: every method is thread-safe (prometheus-cpp metrics are; the
// few maps kept here are guarded by a mutex). Ownership: owns the registry;
// registry() shares it with the exposer (MetricsHttpServer).
class ServiceMetrics {
 public:
  // Tenants that get their own ptune_tenant_requests_total series; later
  // ones share tenant="other", so a server with many tenants cannot blow up
  // Prometheus' series count.
  static constexpr int kDefaultMaxTenantSeries = 100;

  explicit ServiceMetrics(const BuildInfo& build_info,
                          int max_tenant_series = kDefaultMaxTenantSeries);
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  // The registry to serve (MetricsHttpServer) or to add more families to.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // What a /metrics endpoint serves: the registry and the process_* metrics.
  std::shared_ptr<prometheus::Collectable> collectable() const { return collectable_; }

  // One finished RPC. `method` is the short RPC name ("Classify"); `code` the
  // canonical status name as absl::StatusCodeToString writes it ("OK",
  // "NOT_FOUND"), which is also gRPC's spelling.
  void RecordRequest(std::string_view method, std::string_view code,
                     double seconds);
  void RecordRequest(std::string_view method, absl::StatusCode code,
                     double seconds);
  // A finished server stream: counted in ptune_requests_total, its life in
  // ptune_stream_duration_seconds.
  void RecordStream(std::string_view method, absl::StatusCode code, double seconds);

  // A call refused for `reason` (see the family list), e.g. "rate_limit".
  void RecordRejection(std::string_view reason);
  // A call authenticated as `tenant` (its id).
  void RecordTenantRequest(std::string_view tenant);
  // A training job this replica ran ended in `state` ("succeeded",
  // "failed", "cancelled") after `seconds` from its start.
  void RecordJobFinished(std::string_view state, double seconds);

  // One backbone forward over a batch of `rows` rows and `tokens` tokens
  // (padding included); padding_ratio in [0, 1].
  void RecordBatch(int64_t rows, int64_t tokens, double padding_ratio,
                   double forward_seconds);

  // How long one task waited in the queue before its batch ran.
  void RecordQueueWait(double seconds);
  void SetQueueDepth(int64_t depth);

  // Prompt cache, event style: call as events happen.
  void IncrementPromptCacheHits(uint64_t n = 1);
  void IncrementPromptCacheMisses(uint64_t n = 1);
  void IncrementPromptCacheEvictions(uint64_t n = 1);
  void SetPromptCacheResident(int64_t prompts, int64_t bytes);

  // Prompt cache, snapshot style: pass the engine's cumulative totals (e.g. on
  // every scrape or on a timer); the counters advance by the difference since
  // the previous snapshot. A total lower than the previous one means the
  // engine's counters restarted: the counter then advances by the new total,
  // so it stays monotonic. Use one style per process, not both.
  void SetPromptCacheTotals(const PromptCacheTotals& totals);

  // Number of jobs in each state. States missing from `counts` that were
  // reported before (or are in kJobStates) are set to 0.
  void SetJobs(const absl::flat_hash_map<std::string, int64_t>& counts);

  // Training examples processed (forward + backward); rate() gives
  // examples per second. Event style (Add) or snapshot style (Set: the
  // engine's cumulative count, read per step; the counter advances by the
  // difference, as SetPromptCacheTotals). One style per process.
  void AddTrainingExamples(uint64_t n);
  void SetTrainingExamplesTotal(uint64_t total);

  // Device memory in bytes, e.g. ("cuda:0", "allocated"), ("cuda:0",
  // "reserved"), ("cpu", "resident").
  void SetDeviceMemory(std::string_view device, std::string_view kind,
                       int64_t bytes);

 private:
  // ptune_requests_total{method, code}, created on first use.
  prometheus::Counter& RequestCounterOf(std::string_view method, std::string_view code)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  prometheus::Counter& CounterOf(prometheus::Family<prometheus::Counter>& family,
                     absl::flat_hash_map<std::string, prometheus::Counter*>& series,
                     const std::string& label, std::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  prometheus::Histogram& HistogramOf(
      prometheus::Family<prometheus::Histogram>& family,
      absl::flat_hash_map<std::string, prometheus::Histogram*>& series,
      const std::string& label, std::string_view value,
      const prometheus::Histogram::BucketBoundaries& buckets) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  const int max_tenant_series_;

  prometheus::Family<prometheus::Counter>& requests_total_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Histogram>& stream_duration_;
  prometheus::Family<prometheus::Counter>& rejections_;
  prometheus::Family<prometheus::Counter>& tenant_requests_;
  prometheus::Family<prometheus::Counter>& jobs_finished_;
  prometheus::Family<prometheus::Histogram>& job_duration_;
  prometheus::Gauge& queue_depth_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& batch_size_;
  prometheus::Histogram& batch_tokens_;
  prometheus::Histogram& batch_padding_ratio_;
  prometheus::Histogram& forward_duration_;
  prometheus::Counter& cache_hits_;
  prometheus::Counter& cache_misses_;
  prometheus::Counter& cache_evictions_;
  prometheus::Gauge& cache_resident_prompts_;
  prometheus::Gauge& cache_resident_bytes_;
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Counter& training_examples_;
  prometheus::Family<prometheus::Gauge>& device_memory_;

  absl::Mutex mu_;
  // Family::Add builds a fresh metric object on every call (and a histogram
  // copies its buckets), so the per-request series are looked up here once.
  absl::flat_hash_map<std::pair<std::string, std::string>, prometheus::Counter*>
      request_counters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> request_histograms_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Gauge*> job_gauges_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> stream_histograms_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> rejection_counters_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> tenant_counters_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> finished_counters_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> job_histograms_
      ABSL_GUARDED_BY(mu_);
  PromptCacheTotals last_totals_ ABSL_GUARDED_BY(mu_);
  uint64_t last_training_examples_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ptune::metrics

#endif  // PTUNE_SERVER_METRICS_SERVICE_METRICS_H_
