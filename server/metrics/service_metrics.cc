#include "server/metrics/service_metrics.h"

#include "absl/strings/string_view.h"
#include "prometheus/labels.h"
#include "server/metrics/buckets.h"
#include "server/metrics/process_collector.h"

namespace ptune::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Registry;

Family<Counter>& CounterFamily(Registry& registry, const std::string& name,
                               const std::string& help) {
  return BuildCounter().Name(name).Help(help).Register(registry);
}

Family<Gauge>& GaugeFamily(Registry& registry, const std::string& name,
                           const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(registry);
}

Family<Histogram>& HistogramFamily(Registry& registry, const std::string& name,
                                   const std::string& help) {
  return BuildHistogram().Name(name).Help(help).Register(registry);
}

// Advances `counter` from the previous cumulative total to `now`; a lower
// total means the source restarted counting.
void AdvanceCounter(Counter& counter, uint64_t previous, uint64_t now) {
  const uint64_t delta = now >= previous ? now - previous : now;
  if (delta > 0) counter.Increment(static_cast<double>(delta));
}

}  // namespace

ServiceMetrics::ServiceMetrics(const BuildInfo& build_info, int max_tenant_series)
    : registry_(std::make_shared<Registry>()),
      collectable_(std::make_shared<CombinedCollectable>(
          std::vector<std::shared_ptr<prometheus::Collectable>>{
              registry_, std::make_shared<ProcessCollector>()})),
      max_tenant_series_(max_tenant_series),
      requests_total_(
          CounterFamily(*registry_, "ptune_requests_total",
                        "Finished RPCs by method and status code.")),
      request_duration_(
          HistogramFamily(*registry_, "ptune_request_duration_seconds",
                          "Unary RPC latency from arrival to response, by method.")),
      stream_duration_(
          HistogramFamily(*registry_, "ptune_stream_duration_seconds",
                          "How long a server stream (WatchJob) lived, by method.")),
      rejections_(CounterFamily(*registry_, "ptune_rejections_total",
                                "Calls refused by a rate limit, quota or full queue, by reason.")),
      tenant_requests_(CounterFamily(
          *registry_, "ptune_tenant_requests_total",
          "Authenticated calls by tenant id (bounded: later tenants count as \"other\").")),
      jobs_finished_(CounterFamily(*registry_, "ptune_jobs_finished_total",
                                   "Training jobs this replica ran to an end, by final state.")),
      job_duration_(HistogramFamily(*registry_, "ptune_job_duration_seconds",
                                    "Training job run time from start to end, by final state.")),
      queue_depth_(GaugeFamily(*registry_, "ptune_queue_depth",
                               "Inference tasks waiting in the batch queue.")
                       .Add({})),
      queue_wait_(HistogramFamily(*registry_, "ptune_queue_wait_seconds",
                                  "Time a task waited in the batch queue.")
                      .Add({}, buckets::QueueWaitSeconds())),
      batch_size_(HistogramFamily(*registry_, "ptune_batch_size",
                                  "Rows per backbone forward.")
                      .Add({}, buckets::BatchRows())),
      batch_tokens_(HistogramFamily(*registry_, "ptune_batch_tokens",
                                    "Real (unpadded) tokens per backbone "
                                    "forward.")
                        .Add({}, buckets::BatchTokens())),
      batch_padding_ratio_(
          HistogramFamily(*registry_, "ptune_batch_padding_ratio",
                          "Share of padding tokens in a batch.")
              .Add({}, buckets::PaddingRatio())),
      forward_duration_(
          HistogramFamily(*registry_, "ptune_forward_duration_seconds",
                          "Duration of one backbone forward over a batch.")
              .Add({}, buckets::ForwardSeconds())),
      cache_hits_(CounterFamily(*registry_, "ptune_prompt_cache_hits_total",
                                "Prompt lookups served from the device cache.")
                      .Add({})),
      cache_misses_(CounterFamily(*registry_, "ptune_prompt_cache_misses_total",
                                  "Prompt lookups that loaded from the store.")
                        .Add({})),
      cache_evictions_(CounterFamily(*registry_,
                                     "ptune_prompt_cache_evictions_total",
                                     "Prompts evicted from the device cache.")
                           .Add({})),
      cache_resident_prompts_(
          GaugeFamily(*registry_, "ptune_prompt_cache_resident_prompts",
                      "Prompts resident in the device cache.")
              .Add({})),
      cache_resident_bytes_(
          GaugeFamily(*registry_, "ptune_prompt_cache_resident_bytes",
                      "Bytes of prompts resident in the device cache.")
              .Add({})),
      jobs_(GaugeFamily(*registry_, "ptune_jobs", "Training jobs by state.")),
      training_examples_(
          CounterFamily(*registry_, "ptune_training_examples_total",
                        "Training examples processed (forward and backward).")
              .Add({})),
      device_memory_(GaugeFamily(*registry_, "ptune_device_memory_bytes",
                                 "Device memory by device and kind.")) {
  GaugeFamily(*registry_, "ptune_build_info",
              "Build of this server; the value is always 1.")
      .Add({{"version", build_info.version}, {"backbone", build_info.backbone}})
      .Set(1);
  absl::MutexLock lock(&mu_);
  for (std::string_view state : kJobStates) {
    job_gauges_.emplace(std::string(state),
                        &jobs_.Add({{"state", std::string(state)}}));
  }
  // Series that alerts and panels read exist at 0 from the start, so that
  // rate() over them is 0 rather than empty on a healthy server.
  for (std::string_view reason : {"rate_limit", "prompt_quota", "job_quota", "storage_quota",
                                  "concurrency", "queue_full", "tenant_queue"}) {
    CounterOf(rejections_, rejection_counters_, "reason", reason);
  }
  for (std::string_view state : {"succeeded", "failed", "cancelled"}) {
    CounterOf(jobs_finished_, finished_counters_, "state", state);
  }
}

prometheus::Counter& ServiceMetrics::CounterOf(
    Family<Counter>& family, absl::flat_hash_map<std::string, Counter*>& series,
    const std::string& label, std::string_view value) {
  auto it = series.find(absl::string_view(value.data(), value.size()));
  if (it == series.end()) {
    Counter& added = family.Add({{label, std::string(value)}});
    it = series.emplace(std::string(value), &added).first;
  }
  return *it->second;
}

prometheus::Histogram& ServiceMetrics::HistogramOf(
    Family<Histogram>& family, absl::flat_hash_map<std::string, Histogram*>& series,
    const std::string& label, std::string_view value,
    const Histogram::BucketBoundaries& buckets) {
  auto it = series.find(absl::string_view(value.data(), value.size()));
  if (it == series.end()) {
    Histogram& added = family.Add({{label, std::string(value)}}, buckets);
    it = series.emplace(std::string(value), &added).first;
  }
  return *it->second;
}

void ServiceMetrics::RecordStream(std::string_view method, absl::StatusCode code,
                                  double seconds) {
  Counter* counter;
  Histogram* histogram;
  {
    absl::MutexLock lock(&mu_);
    counter = &RequestCounterOf(method, absl::StatusCodeToString(code));
    histogram = &HistogramOf(stream_duration_, stream_histograms_, "method", method,
                             buckets::StreamSeconds());
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void ServiceMetrics::RecordRejection(std::string_view reason) {
  absl::MutexLock lock(&mu_);
  CounterOf(rejections_, rejection_counters_, "reason", reason).Increment();
}

void ServiceMetrics::RecordTenantRequest(std::string_view tenant) {
  absl::MutexLock lock(&mu_);
  const bool known = tenant_counters_.contains(absl::string_view(tenant.data(), tenant.size()));
  const bool room = static_cast<int>(tenant_counters_.size()) < max_tenant_series_;
  CounterOf(tenant_requests_, tenant_counters_, "tenant",
            known || room ? tenant : std::string_view("other"))
      .Increment();
}

void ServiceMetrics::RecordJobFinished(std::string_view state, double seconds) {
  absl::MutexLock lock(&mu_);
  CounterOf(jobs_finished_, finished_counters_, "state", state).Increment();
  HistogramOf(job_duration_, job_histograms_, "state", state, buckets::JobSeconds())
      .Observe(seconds);
}

void ServiceMetrics::RecordRequest(std::string_view method,
                                   std::string_view code, double seconds) {
  Counter* counter;
  Histogram* histogram;
  {
    absl::MutexLock lock(&mu_);
    counter = &RequestCounterOf(method, code);
    histogram = &HistogramOf(request_duration_, request_histograms_, "method", method,
                             buckets::RequestSeconds());
  }
  counter->Increment();
  histogram->Observe(seconds);
}

prometheus::Counter& ServiceMetrics::RequestCounterOf(std::string_view method,
                                                      std::string_view code) {
  auto key = std::make_pair(std::string(method), std::string(code));
  auto it = request_counters_.find(key);
  if (it == request_counters_.end()) {
    Counter& added = requests_total_.Add({{"method", key.first}, {"code", key.second}});
    it = request_counters_.emplace(std::move(key), &added).first;
  }
  return *it->second;
}

void ServiceMetrics::RecordRequest(std::string_view method,
                                   absl::StatusCode code, double seconds) {
  RecordRequest(method, absl::StatusCodeToString(code), seconds);
}

void ServiceMetrics::RecordBatch(int64_t rows, int64_t tokens,
                                 double padding_ratio, double forward_seconds) {
  batch_size_.Observe(static_cast<double>(rows));
  batch_tokens_.Observe(static_cast<double>(tokens));
  batch_padding_ratio_.Observe(padding_ratio);
  forward_duration_.Observe(forward_seconds);
}

void ServiceMetrics::RecordQueueWait(double seconds) {
  queue_wait_.Observe(seconds);
}

void ServiceMetrics::SetQueueDepth(int64_t depth) {
  queue_depth_.Set(static_cast<double>(depth));
}

void ServiceMetrics::IncrementPromptCacheHits(uint64_t n) {
  cache_hits_.Increment(static_cast<double>(n));
}

void ServiceMetrics::IncrementPromptCacheMisses(uint64_t n) {
  cache_misses_.Increment(static_cast<double>(n));
}

void ServiceMetrics::IncrementPromptCacheEvictions(uint64_t n) {
  cache_evictions_.Increment(static_cast<double>(n));
}

void ServiceMetrics::SetPromptCacheResident(int64_t prompts, int64_t bytes) {
  cache_resident_prompts_.Set(static_cast<double>(prompts));
  cache_resident_bytes_.Set(static_cast<double>(bytes));
}

void ServiceMetrics::SetPromptCacheTotals(const PromptCacheTotals& totals) {
  {
    absl::MutexLock lock(&mu_);
    AdvanceCounter(cache_hits_, last_totals_.hits, totals.hits);
    AdvanceCounter(cache_misses_, last_totals_.misses, totals.misses);
    AdvanceCounter(cache_evictions_, last_totals_.evictions, totals.evictions);
    last_totals_ = totals;
  }
  SetPromptCacheResident(totals.resident_prompts, totals.resident_bytes);
}

void ServiceMetrics::SetJobs(
    const absl::flat_hash_map<std::string, int64_t>& counts) {
  absl::MutexLock lock(&mu_);
  for (const auto& [state, count] : counts) {
    auto it = job_gauges_.find(state);
    if (it == job_gauges_.end()) {
      it = job_gauges_.emplace(state, &jobs_.Add({{"state", state}})).first;
    }
    it->second->Set(static_cast<double>(count));
  }
  for (auto& [state, gauge] : job_gauges_) {
    if (!counts.contains(state)) gauge->Set(0);
  }
}

void ServiceMetrics::AddTrainingExamples(uint64_t n) {
  training_examples_.Increment(static_cast<double>(n));
}

void ServiceMetrics::SetTrainingExamplesTotal(uint64_t total) {
  absl::MutexLock lock(&mu_);
  AdvanceCounter(training_examples_, last_training_examples_, total);
  last_training_examples_ = total;
}

void ServiceMetrics::SetDeviceMemory(std::string_view device,
                                     std::string_view kind, int64_t bytes) {
  // Rare (a timer, not per request), so Family::Add's lookup is cheap enough.
  device_memory_
      .Add({{"device", std::string(device)}, {"kind", std::string(kind)}})
      .Set(static_cast<double>(bytes));
}

}  // namespace ptune::metrics
