#include "server/metrics/metrics_http_server.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "server/metrics/service_metrics.h"
#include "server/metrics/text_format_test_util.h"

namespace ptune::metrics {
namespace {

using ::ptune::metrics::testing::Find;
using ::ptune::metrics::testing::ParseSamples;
using ::testing::HasSubstr;
using ::testing::Optional;

std::unique_ptr<MetricsHttpServer> MakeServer(const ServiceMetrics& metrics,
                                              const std::string& address) {
  auto server = MetricsHttpServer::Create({address}, metrics.registry());
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

httplib::Result Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  return client.Get(path);
}

TEST(MetricsHttpServerTest, ServesMetricsAndHealthOverHttp) {
  ServiceMetrics metrics(BuildInfo{"0.1.0", "all-MiniLM-L6-v2"});
  metrics.RecordRequest("Classify", "OK", 0.004);
  metrics.RecordRequest("Classify", "UNAVAILABLE", 0.5);
  metrics.RecordBatch(4, 256, 0.1, 0.05);
  metrics.SetJobs({{"running", 1}});
  auto server = MakeServer(metrics, "127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->Start().ok());
  ASSERT_GT(server->port(), 0);

  httplib::Result response = Get(server->port(), "/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->get_header_value("Content-Type"),
              HasSubstr("text/plain; version=0.0.4"));
  const auto s = ParseSamples(response->body);
  EXPECT_THAT(Find(s, "ptune_requests_total",
                   {{"method", "Classify"}, {"code", "UNAVAILABLE"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_request_duration_seconds_bucket",
                   {{"method", "Classify"}, {"le", "0.005"}}),
              Optional(1.0));
  EXPECT_THAT(
      Find(s, "ptune_request_duration_seconds_count", {{"method", "Classify"}}),
      Optional(2.0));
  EXPECT_THAT(Find(s, "ptune_batch_tokens_sum"), Optional(256.0));
  EXPECT_THAT(Find(s, "ptune_jobs", {{"state", "running"}}), Optional(1.0));
  EXPECT_THAT(Find(s, "ptune_build_info",
                   {{"version", "0.1.0"}, {"backbone", "all-MiniLM-L6-v2"}}),
              Optional(1.0));

  // A later scrape sees later values.
  metrics.SetQueueDepth(9);
  response = Get(server->port(), "/metrics");
  ASSERT_TRUE(response);
  EXPECT_THAT(Find(ParseSamples(response->body), "ptune_queue_depth"),
              Optional(9.0));

  response = Get(server->port(), "/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");

  response = Get(server->port(), "/nope");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
}

TEST(MetricsHttpServerTest, PortInUseIsUnavailable) {
  ServiceMetrics metrics(BuildInfo{"1", "x"});
  auto first = MakeServer(metrics, "127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Start().ok());
  const std::string taken = "127.0.0.1:" + std::to_string(first->port());

  auto second = MakeServer(metrics, taken);
  ASSERT_NE(second, nullptr);
  const absl::Status status = second->Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr(taken));
  EXPECT_EQ(second->port(), 0);
  // The first server still answers.
  httplib::Result response = Get(first->port(), "/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST(MetricsHttpServerTest, StopsAndStartsAgain) {
  ServiceMetrics metrics(BuildInfo{"1", "x"});
  auto server = MakeServer(metrics, "127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->Start().ok());
  EXPECT_EQ(server->Start().code(), absl::StatusCode::kFailedPrecondition);
  const int port = server->port();
  ASSERT_TRUE(Get(port, "/healthz"));

  server->Stop();
  EXPECT_EQ(server->port(), 0);
  EXPECT_FALSE(Get(port, "/healthz"));
  server->Stop();  // idempotent

  ASSERT_TRUE(server->Start().ok());
  httplib::Result response = Get(server->port(), "/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  // Destruction stops the thread (the test would hang otherwise).
  server.reset();
}

TEST(MetricsHttpServerTest, RejectsBadAddresses) {
  ServiceMetrics metrics(BuildInfo{"1", "x"});
  for (const std::string address :
       {"9090", ":9090", "localhost:", "localhost:http", "localhost:70000",
        "localhost:-1"}) {
    auto server = MetricsHttpServer::Create({address}, metrics.registry());
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << address;
  }
  EXPECT_EQ(MetricsHttpServer::Create({"127.0.0.1:0"}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricsHttpServerTest, ParsesHostAndPort) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseHostPort("0.0.0.0:9090", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9090);
  ASSERT_TRUE(ParseHostPort("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
}

}  // namespace
}  // namespace ptune::metrics
