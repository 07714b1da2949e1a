#include "server/metrics/service_metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "server/metrics/text_format_test_util.h"

namespace ptune::metrics {
namespace {

using ::ptune::metrics::testing::Find;
using ::ptune::metrics::testing::ParseSamples;
using ::ptune::metrics::testing::Sample;
using ::testing::DoubleNear;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

std::string Scrape(const ServiceMetrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
}

class ServiceMetricsTest : public ::testing::Test {
 protected:
  std::vector<Sample> Samples() { return ParseSamples(Scrape(metrics_)); }

  ServiceMetrics metrics_{BuildInfo{"1.2.3", "all-MiniLM-L6-v2"}};
};

TEST_F(ServiceMetricsTest, EveryLineParses) {
  metrics_.RecordRequest("Classify", "OK", 0.01);
  for (const Sample& s : Samples()) EXPECT_NE(s.name, "<unparsed>");
}

TEST_F(ServiceMetricsTest, DeclaresTypesAndHelp) {
  // prometheus-cpp leaves out a labelled family until it has a series.
  EXPECT_THAT(Scrape(metrics_), Not(HasSubstr("ptune_requests_total")));
  metrics_.RecordRequest("Classify", "OK", 0.01);
  const std::string text = Scrape(metrics_);
  EXPECT_THAT(text, HasSubstr("# TYPE ptune_requests_total counter"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE ptune_request_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE ptune_queue_depth gauge"));
  EXPECT_THAT(text, HasSubstr("# TYPE ptune_batch_padding_ratio histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE ptune_jobs gauge"));
  EXPECT_THAT(text, HasSubstr("# HELP ptune_prompt_cache_hits_total "));
}

TEST_F(ServiceMetricsTest, BuildInfoIsOne) {
  EXPECT_THAT(Find(Samples(), "ptune_build_info",
                   {{"version", "1.2.3"}, {"backbone", "all-MiniLM-L6-v2"}}),
              Optional(1.0));
}

TEST_F(ServiceMetricsTest, CountsRequestsByMethodAndCode) {
  metrics_.RecordRequest("Classify", "OK", 0.004);
  metrics_.RecordRequest("Classify", "OK", 0.02);
  metrics_.RecordRequest("Classify", absl::StatusCode::kNotFound, 0.002);
  metrics_.RecordRequest("TagEntities", "OK", 3.0);
  const auto s = Samples();
  EXPECT_THAT(
      Find(s, "ptune_requests_total", {{"method", "Classify"}, {"code", "OK"}}),
      Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_requests_total",
                   {{"method", "Classify"}, {"code", "NOT_FOUND"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_requests_total",
                   {{"method", "TagEntities"}, {"code", "OK"}}),
              Optional(1.0));
  EXPECT_EQ(Find(s, "ptune_requests_total",
                 {{"method", "TagEntities"}, {"code", "NOT_FOUND"}}),
            std::nullopt);
  // The latency histogram is by method only.
  EXPECT_THAT(
      Find(s, "ptune_request_duration_seconds_count", {{"method", "Classify"}}),
      Optional(3.0));
  EXPECT_THAT(
      Find(s, "ptune_request_duration_seconds_sum", {{"method", "Classify"}}),
      Optional(DoubleNear(0.026, 1e-12)));
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_bucket",
                   {{"method", "Classify"}, {"le", "0.0025"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_bucket",
                   {{"method", "Classify"}, {"le", "0.005"}}),
              Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_bucket",
                   {{"method", "Classify"}, {"le", "+Inf"}}),
              Optional(3.0));
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_bucket",
                   {{"method", "TagEntities"}, {"le", "2.5"}}),
              Optional(0.0));
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_bucket",
                   {{"method", "TagEntities"}, {"le", "5"}}),
              Optional(1.0));
}

TEST_F(ServiceMetricsTest, RecordsBatches) {
  metrics_.RecordBatch(8, 512, 0.25, 0.02);
  metrics_.RecordBatch(3, 100, 0.0, 0.004);
  const auto s = Samples();
  EXPECT_THAT(Find(s, "ptune_batch_size_bucket", {{"le", "2"}}), Optional(0.0));
  EXPECT_THAT(Find(s, "ptune_batch_size_bucket", {{"le", "4"}}), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_batch_size_bucket", {{"le", "8"}}), Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_batch_size_sum"), Optional(11.0));
  EXPECT_THAT(Find(s, "ptune_batch_size_count"), Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_batch_tokens_bucket", {{"le", "256"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_batch_tokens_bucket", {{"le", "512"}}),
              Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_batch_padding_ratio_bucket", {{"le", "0"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_batch_padding_ratio_bucket", {{"le", "0.2"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_batch_padding_ratio_bucket", {{"le", "0.3"}}),
              Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_forward_duration_seconds_sum"),
              Optional(DoubleNear(0.024, 1e-12)));
  EXPECT_THAT(Find(s, "ptune_forward_duration_seconds_count"), Optional(2.0));
}

TEST_F(ServiceMetricsTest, RecordsQueue) {
  metrics_.SetQueueDepth(17);
  metrics_.RecordQueueWait(0.003);
  const auto s = Samples();
  EXPECT_THAT(Find(s, "ptune_queue_depth"), Optional(17.0));
  EXPECT_THAT(Find(s, "ptune_queue_wait_seconds_bucket", {{"le", "0.002"}}),
              Optional(0.0));
  EXPECT_THAT(Find(s, "ptune_queue_wait_seconds_bucket", {{"le", "0.005"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_queue_wait_seconds_count"), Optional(1.0));
}

TEST_F(ServiceMetricsTest, CacheEventsIncrement) {
  metrics_.IncrementPromptCacheHits();
  metrics_.IncrementPromptCacheHits(4);
  metrics_.IncrementPromptCacheMisses(2);
  metrics_.IncrementPromptCacheEvictions();
  metrics_.SetPromptCacheResident(12, 4096);
  const auto s = Samples();
  EXPECT_THAT(Find(s, "ptune_prompt_cache_hits_total"), Optional(5.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_misses_total"), Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_evictions_total"), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_resident_prompts"), Optional(12.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_resident_bytes"), Optional(4096.0));
}

TEST_F(ServiceMetricsTest, CacheTotalsAdvanceByDifference) {
  metrics_.SetPromptCacheTotals({10, 2, 1, 5, 500});
  metrics_.SetPromptCacheTotals({15, 3, 1, 6, 600});
  auto s = Samples();
  EXPECT_THAT(Find(s, "ptune_prompt_cache_hits_total"), Optional(15.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_misses_total"), Optional(3.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_evictions_total"), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_resident_prompts"), Optional(6.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_resident_bytes"), Optional(600.0));
  // The engine's counters restarted: the counter keeps rising.
  metrics_.SetPromptCacheTotals({4, 0, 0, 1, 100});
  s = Samples();
  EXPECT_THAT(Find(s, "ptune_prompt_cache_hits_total"), Optional(19.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_misses_total"), Optional(3.0));
  EXPECT_THAT(Find(s, "ptune_prompt_cache_resident_prompts"), Optional(1.0));
}

TEST_F(ServiceMetricsTest, JobStatesStartAtZeroAndMissingStatesReset) {
  auto s = Samples();
  for (std::string_view state : kJobStates) {
    EXPECT_THAT(Find(s, "ptune_jobs", {{"state", std::string(state)}}),
                Optional(0.0))
        << state;
  }
  metrics_.SetJobs({{"running", 2}, {"failed", 1}, {"paused", 4}});
  s = Samples();
  EXPECT_THAT(Find(s, "ptune_jobs", {{"state", "running"}}), Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_jobs", {{"state", "failed"}}), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_jobs", {{"state", "paused"}}), Optional(4.0));
  metrics_.SetJobs({{"queued", 3}});
  s = Samples();
  EXPECT_THAT(Find(s, "ptune_jobs", {{"state", "queued"}}), Optional(3.0));
  EXPECT_THAT(Find(s, "ptune_jobs", {{"state", "running"}}), Optional(0.0));
  EXPECT_THAT(Find(s, "ptune_jobs", {{"state", "paused"}}), Optional(0.0));
}

TEST_F(ServiceMetricsTest, TrainingExamplesAndDeviceMemory) {
  metrics_.AddTrainingExamples(32);
  metrics_.AddTrainingExamples(8);
  metrics_.SetDeviceMemory("cuda:0", "allocated", 1 << 20);
  metrics_.SetDeviceMemory("cuda:0", "allocated", 3 << 20);
  metrics_.SetDeviceMemory("cuda:0", "reserved", 8 << 20);
  const auto s = Samples();
  EXPECT_THAT(Find(s, "ptune_training_examples_total"), Optional(40.0));
  EXPECT_THAT(Find(s, "ptune_device_memory_bytes",
                   {{"device", "cuda:0"}, {"kind", "allocated"}}),
              Optional(double{3 << 20}));
  EXPECT_THAT(Find(s, "ptune_device_memory_bytes",
                   {{"device", "cuda:0"}, {"kind", "reserved"}}),
              Optional(double{8 << 20}));
}

TEST(ServiceMetricsInstancesTest, InstancesDoNotShareState) {
  ServiceMetrics a(BuildInfo{"1", "x"});
  ServiceMetrics b(BuildInfo{"1", "x"});
  a.RecordRequest("Classify", "OK", 0.1);
  EXPECT_THAT(Find(ParseSamples(Scrape(a)), "ptune_requests_total",
                   {{"method", "Classify"}, {"code", "OK"}}),
              Optional(1.0));
  EXPECT_EQ(Find(ParseSamples(Scrape(b)), "ptune_requests_total",
                 {{"method", "Classify"}, {"code", "OK"}}),
            std::nullopt);
}

TEST(ServiceMetricsInstancesTest, ConcurrentRecordingLosesNothing) {
  ServiceMetrics metrics(BuildInfo{"1", "x"});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      const std::string method = t % 2 == 0 ? "Classify" : "TagEntities";
      for (int i = 0; i < kPerThread; ++i) {
        metrics.RecordRequest(method, "OK", 0.001);
        metrics.SetPromptCacheTotals({static_cast<uint64_t>(i), 0, 0, 0, 0});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto s = ParseSamples(Scrape(metrics));
  EXPECT_THAT(
      Find(s, "ptune_requests_total", {{"method", "Classify"}, {"code", "OK"}}),
      Optional(double{2 * kPerThread}));
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_count",
                   {{"method", "TagEntities"}}),
              Optional(double{2 * kPerThread}));
}

}  // namespace
}  // namespace ptune::metrics

namespace ptune::metrics {
namespace {

TEST(ServiceMetricsFamiliesTest, StreamsHaveTheirOwnHistogram) {
  ServiceMetrics metrics{BuildInfo{"1", "b"}};
  metrics.RecordRequest("Classify", "OK", 0.01);
  metrics.RecordStream("WatchJob", absl::StatusCode::kOk, 120);
  const auto s = ParseSamples(Scrape(metrics));
  EXPECT_THAT(Find(s, "ptune_requests_total", {{"method", "WatchJob"}, {"code", "OK"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_stream_duration_seconds_count", {{"method", "WatchJob"}}),
              Optional(1.0));
  EXPECT_EQ(Find(s, "ptune_request_duration_seconds_count", {{"method", "WatchJob"}}),
            std::nullopt);
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_count", {{"method", "Classify"}}),
              Optional(1.0));
}

TEST(ServiceMetricsFamiliesTest, RejectionsAndJobEndsStartAtZero) {
  ServiceMetrics metrics{BuildInfo{"1", "b"}};
  auto s = ParseSamples(Scrape(metrics));
  for (const char* reason : {"rate_limit", "prompt_quota", "job_quota", "storage_quota",
                             "concurrency", "queue_full", "tenant_queue"}) {
    EXPECT_THAT(Find(s, "ptune_rejections_total", {{"reason", reason}}), Optional(0.0))
        << reason;
  }
  EXPECT_THAT(Find(s, "ptune_jobs_finished_total", {{"state", "failed"}}), Optional(0.0));
  metrics.RecordRejection("rate_limit");
  metrics.RecordJobFinished("failed", 42);
  s = ParseSamples(Scrape(metrics));
  EXPECT_THAT(Find(s, "ptune_rejections_total", {{"reason", "rate_limit"}}), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_jobs_finished_total", {{"state", "failed"}}), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_job_duration_seconds_sum", {{"state", "failed"}}),
              Optional(42.0));
}

TEST(ServiceMetricsFamiliesTest, TenantSeriesAreBounded) {
  ServiceMetrics metrics{BuildInfo{"1", "b"}, /*max_tenant_series=*/2};
  for (const char* tenant : {"ten_a", "ten_b", "ten_c", "ten_a", "ten_d"}) {
    metrics.RecordTenantRequest(tenant);
  }
  const auto s = ParseSamples(Scrape(metrics));
  EXPECT_THAT(Find(s, "ptune_tenant_requests_total", {{"tenant", "ten_a"}}), Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_tenant_requests_total", {{"tenant", "ten_b"}}), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_tenant_requests_total", {{"tenant", "other"}}), Optional(2.0));
  EXPECT_EQ(Find(s, "ptune_tenant_requests_total", {{"tenant", "ten_c"}}), std::nullopt);
}

TEST(ServiceMetricsFamiliesTest, CollectableAddsProcessMetrics) {
  ServiceMetrics metrics{BuildInfo{"1", "b"}};
  const std::string text =
      prometheus::TextSerializer().Serialize(metrics.collectable()->Collect());
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter"));
  EXPECT_THAT(text, HasSubstr("ptune_build_info"));
}

}  // namespace
}  // namespace ptune::metrics
