// The metrics as an operator's Prometheus sees them: a real ptune-server
// gets traffic (a training job, Classify calls, a refused call), its
// /metrics passes `promtool check metrics` (Prometheus' own lint of the text
// format), and a real Prometheus (Debian's `prometheus`) scrapes it with
// deploy/prometheus/rules.yaml loaded. Then every expression of the
// Grafana dashboard and every recording rule must return data, and every
// rule must evaluate without error. Skips where no prometheus binary is
// installed, unless PTUNE_REQUIRE_PROMETHEUS=1 (dev.sh test sets it).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/cli_checks.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/subprocess.h"
#include "tests/testing/test_paths.h"

namespace ptune::e2e {
namespace {

using json = nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A loopback port nobody listens on now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string Which(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

// The dashboard's queries with Grafana's variables filled in.
std::vector<std::string> DashboardExpressions() {
  const json dashboard = json::parse(
      ReadAll(ptune::testing::SourceDir() + "/deploy/grafana/ptune-dashboard.json"));
  std::vector<std::string> out;
  for (const json& panel : dashboard["panels"]) {
    for (const json& target : panel.value("targets", json::array())) {
      out.push_back(absl::StrReplaceAll(target.value("expr", std::string()),
                                        {{"$__rate_interval", "30s"}, {"$job", ".*"}}));
    }
  }
  return out;
}

class Prometheus {
 public:
  explicit Prometheus(int port) : http_("127.0.0.1", port) { http_.set_read_timeout(10, 0); }

  bool Ready() {
    auto got = http_.Get("/-/ready");
    return got && got->status == 200;
  }

  // The result of an instant query; `error` set when Prometheus refused it.
  json Query(const std::string& expr, std::string* error) {
    auto got = http_.Get("/api/v1/query", httplib::Params{{"query", expr}}, httplib::Headers{});
    if (!got) {
      *error = "no response";
      return json::array();
    }
    const json body = json::parse(got->body, nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success") {
      *error = got->body;
      return json::array();
    }
    error->clear();
    return body["data"]["result"];
  }

  json Rules() {
    auto got = http_.Get("/api/v1/rules");
    if (!got) return json::object();
    return json::parse(got->body, nullptr, false);
  }

 private:
  httplib::Client http_;
};

// Skips (or fails under PTUNE_REQUIRE_PROMETHEUS=1) without the binaries.
#define REQUIRE_PROMETHEUS(prometheus_bin, promtool)                                         \
  const std::string prometheus_bin = Which("prometheus"), promtool = Which("promtool");     \
  if (prometheus_bin.empty() || promtool.empty()) {                                         \
    const char* require = std::getenv("PTUNE_REQUIRE_PROMETHEUS");                         \
    if (require != nullptr && std::string(require) == "1") {                                \
      FAIL() << "PTUNE_REQUIRE_PROMETHEUS=1 but prometheus/promtool are not installed "     \
                "(apt-get install prometheus)";                                              \
    }                                                                                        \
    GTEST_SKIP() << "prometheus and promtool are not installed (Debian: apt-get install "   \
                    "prometheus); dev.sh test installs and requires them";                   \
  }

// rules.yaml is valid and passes its unit tests (rules_test.yaml).
TEST(PrometheusTest, RulesPassPromtoolChecksAndUnitTests) {
  REQUIRE_PROMETHEUS(prometheus_bin, promtool);
  const std::string rules_dir = ptune::testing::SourceDir() + "/deploy/prometheus";
  const std::string scratch = ::testing::TempDir();
  const CommandResult checked =
      RunCommand({promtool, "check", "rules", rules_dir + "/rules.yaml"}, scratch,
                 absl::Seconds(60));
  EXPECT_EQ(checked.exit_code(), 0) << checked.DebugString();
  const CommandResult tested = RunCommand(
      {"/bin/sh", "-c", absl::StrCat("cd ", rules_dir, " && ", promtool, " test rules rules_test.yaml")},
      scratch, absl::Seconds(60));
  EXPECT_EQ(tested.exit_code(), 0) << tested.DebugString();
}

TEST(PrometheusTest, DashboardAndRulesEvaluateOnARealPrometheus) {
  REQUIRE_PROMETHEUS(prometheus_bin, promtool);
  absl::StatusOr<std::unique_ptr<Harness>> harness = Harness::Create(DefaultHarnessOptions());
  ASSERT_TRUE(harness.ok()) << harness.status();
  Harness& h = **harness;
  ASSERT_TRUE(h.StartServer().ok());
  absl::StatusOr<Tenant> tenant = h.CreateTenant("observed");
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  const std::string examples = ptune::testing::SourceDir() + "/client/examples/sentiment.tsv";

  // Prometheus first, so that it sees the traffic as it happens.
  const std::string dir = h.dir() + "/prometheus";
  std::filesystem::create_directories(dir + "/data");
  std::string rules = ReadAll(ptune::testing::SourceDir() + "/deploy/prometheus/rules.yaml");
  rules = absl::StrReplaceAll(rules, {{"interval: 30s", "interval: 1s"}});
  {
    std::ofstream(dir + "/rules.yaml") << rules;
    std::ofstream(dir + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files: [" << dir << "/rules.yaml]\n"
        << "scrape_configs:\n  - job_name: ptune\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << h.server().metrics_port() << "']\n";
  }
  const int port = FreePort();
  absl::StatusOr<std::unique_ptr<Subprocess>> prometheus = Subprocess::Start(
      {prometheus_bin, "--config.file=" + dir + "/prometheus.yml",
       "--storage.tsdb.path=" + dir + "/data", absl::StrCat("--web.listen-address=127.0.0.1:", port),
       "--log.level=warn"},
      dir + "/stdout", dir + "/stderr");
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  Prometheus api(port);
  const absl::Time ready_by = absl::Now() + absl::Seconds(60);
  while (!api.Ready() && absl::Now() < ready_by) absl::SleepFor(absl::Milliseconds(200));
  ASSERT_TRUE(api.Ready()) << ReadAll(dir + "/stderr");

  // Traffic: a training job watched to its end (WatchJob), Classify calls,
  // a call for a missing prompt (NOT_FOUND) and an unauthenticated one.
  const CommandResult trained =
      h.Cli(tenant->key, {"train", "--name", "observed", "--task", "classify", "--train",
                          examples, "--epochs", "2", "--wait"});
  ASSERT_EQ(trained.exit_code(), 0) << trained.DebugString();
  const absl::Time traffic_until = absl::Now() + absl::Seconds(6);
  while (absl::Now() < traffic_until) {
    EXPECT_EQ(h.Cli(tenant->key, {"classify", "--prompt", "observed", "good food"}).exit_code(),
              0);
  }
  EXPECT_NE(h.Cli(tenant->key, {"classify", "--prompt", "missing", "x"}).exit_code(), 0);
  EXPECT_NE(h.Cli("ptk_wrong", {"classify", "--prompt", "observed", "x"}).exit_code(), 0);

  // promtool's lint of what the server serves.
  const std::string scraped = Metrics(h.server().metrics_port());
  std::ofstream(dir + "/scrape.txt") << scraped;
  const CommandResult lint = RunCommand(
      {"/bin/sh", "-c", absl::StrCat(promtool, " check metrics < ", dir, "/scrape.txt")}, dir,
      absl::Seconds(30));
  EXPECT_EQ(lint.exit_code(), 0) << lint.DebugString();

  // Every dashboard query, then every recording rule, returns data (a few
  // seconds of scrapes and rule evaluations may be needed first).
  std::vector<std::string> expressions = DashboardExpressions();
  ASSERT_GT(expressions.size(), 20u);
  const json groups = api.Rules();
  std::vector<std::string> recorded;
  for (const json& group : groups["data"]["groups"]) {
    for (const json& rule : group["rules"]) {
      if (rule.value("type", "") == "recording") recorded.push_back(rule.value("name", ""));
    }
  }
  ASSERT_GE(recorded.size(), 8u);
  expressions.insert(expressions.end(), recorded.begin(), recorded.end());
  for (const std::string& expr : expressions) {
    std::string error;
    json result = json::array();
    const absl::Time until = absl::Now() + absl::Seconds(20);
    do {
      result = api.Query(expr, &error);
      if (!error.empty() || !result.empty()) break;
      absl::SleepFor(absl::Milliseconds(500));
    } while (absl::Now() < until);
    EXPECT_TRUE(error.empty()) << expr << ": " << error;
    EXPECT_FALSE(result.empty()) << expr << " returned no data";
  }
  // Every rule (recording and alerting) evaluates without an error.
  const json evaluated = api.Rules();
  int rules_seen = 0;
  for (const json& group : evaluated["data"]["groups"]) {
    for (const json& rule : group["rules"]) {
      ++rules_seen;
      EXPECT_EQ(rule.value("health", ""), "ok")
          << rule.value("name", "") << ": " << rule.value("lastError", "");
    }
  }
  EXPECT_GE(rules_seen, 19);
  // With traffic and no server-side failure, the error ratio is 0, and the
  // counted refusals include none.
  std::string error;
  const json ratio = api.Query("ptune:request_errors:ratio_rate5m", &error);
  ASSERT_FALSE(ratio.empty()) << error;
  EXPECT_EQ(ratio[0]["value"][1].get<std::string>(), "0");
  (*prometheus)->Kill();
}

}  // namespace
}  // namespace ptune::e2e
