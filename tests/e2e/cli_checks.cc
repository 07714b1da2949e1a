#include "tests/e2e/cli_checks.h"

#include <httplib.h>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace ptune::e2e {

using nlohmann::json;

std::string Example(const std::string& name) {
  return ptune::testing::SourceDir() + "/client/examples/" + name;
}

HarnessOptions DefaultHarnessOptions(std::vector<std::string> server_flags) {
  HarnessOptions options;
  options.server_binary = PTUNE_SERVER_BIN;
  options.cli_binary = PTUNE_CLI_BIN;
  options.backbone_dir = ptune::testing::BackboneDir();
  // A short job lease: a killed server's job is taken back within seconds.
  options.server_flags = {"--job_lease_s=5"};
  options.server_flags.insert(options.server_flags.end(), server_flags.begin(),
                              server_flags.end());
  return options;
}

// Code points in the UTF-8 bytes `text`.
int CodePoints(const std::string& text) {
  int n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// The parsed stdout of a command that must have exited 0.
json Parsed(const CommandResult& result) {
  EXPECT_EQ(result.exit_code(), 0) << result.DebugString();
  absl::StatusOr<json> parsed = OneJson(result.out);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << result.DebugString();
  return parsed.ok() ? *parsed : json::object();
}

// proto3 JSON prints int64 as strings; int32 as numbers.
int64_t Int(const json& value) {
  if (value.is_string()) return std::stoll(value.get<std::string>());
  return value.is_number() ? value.get<int64_t>() : 0;
}

// Each text's per-label scores from `ptune classify --json`.
std::vector<std::map<std::string, double>> Scores(const json& response) {
  std::vector<std::map<std::string, double>> out;
  for (const json& result : response.value("results", json::array())) {
    std::map<std::string, double>& scores = out.emplace_back();
    for (const json& s : result.value("scores", json::array())) {
      scores[s.value("label", "")] = s.value("score", -1.0);
    }
  }
  return out;
}

void ExpectSameScores(const json& a, const json& b, const std::string& what) {
  const auto scores_a = Scores(a);
  const auto scores_b = Scores(b);
  ASSERT_EQ(scores_a.size(), scores_b.size()) << what;
  for (size_t i = 0; i < scores_a.size(); ++i) {
    ASSERT_EQ(scores_a[i].size(), scores_b[i].size()) << what;
    for (const auto& [label, score] : scores_a[i]) {
      ASSERT_TRUE(scores_b[i].count(label)) << what << ": " << label;
      EXPECT_NEAR(score, scores_b[i].at(label), 1e-5) << what << " text " << i;
    }
  }
}

// Checks a classify response against the prompt's labels: one result per
// text, a probability per label, the label is the argmax.
void ExpectValidClassifications(const json& response, size_t texts,
                                const std::vector<std::string>& labels) {
  const json results = response.value("results", json::array());
  ASSERT_EQ(results.size(), texts) << response.dump();
  for (const json& r : results) {
    const std::string label = r.value("label", "");
    EXPECT_THAT(labels, ::testing::Contains(label)) << r.dump();
    const json scores = r.value("scores", json::array());
    ASSERT_EQ(scores.size(), labels.size()) << r.dump();
    double sum = 0, best = -1;
    std::string best_label;
    for (const json& s : scores) {
      const double p = s.value("score", -1.0);
      EXPECT_GE(p, 0.0);
      EXPECT_LE(p, 1.0);
      sum += p;
      if (p > best) best = p, best_label = s.value("label", "");
    }
    EXPECT_NEAR(sum, 1.0, 1e-4) << r.dump();
    EXPECT_EQ(label, best_label) << r.dump();
    EXPECT_NEAR(r.value("score", -1.0), best, 1e-6) << r.dump();
  }
}

// Checks `ptune tag --json` entities: offsets inside the text (code points
// and bytes agree), `text` is the substring, the type is one of `types`.
// Returns how many entities there were.
int ExpectValidEntities(const json& response, const std::vector<std::string>& texts,
                        const std::set<std::string>& types) {
  const json results = response.value("results", json::array());
  EXPECT_EQ(results.size(), texts.size()) << response.dump();
  int count = 0;
  for (size_t i = 0; i < results.size() && i < texts.size(); ++i) {
    const std::string& text = texts[i];
    int previous_end = 0;
    for (const json& e : results[i].value("entities", json::array())) {
      ++count;
      const int64_t byte_start = Int(e["byteStart"]);
      const int64_t byte_end = Int(e["byteEnd"]);
      const int64_t start = Int(e["start"]);
      const int64_t end = Int(e["end"]);
      if (byte_start < 0 || byte_start >= byte_end ||
          byte_end > static_cast<int64_t>(text.size())) {
        ADD_FAILURE() << "entity outside the text: " << e.dump() << " in \"" << text
                      << "\"";
        continue;
      }
      EXPECT_EQ(e.value("text", ""), text.substr(byte_start, byte_end - byte_start))
          << e.dump();
      EXPECT_EQ(start, CodePoints(text.substr(0, byte_start))) << e.dump();
      EXPECT_EQ(end, CodePoints(text.substr(0, byte_end))) << e.dump();
      EXPECT_GE(start, previous_end) << "overlapping entities: " << e.dump();
      previous_end = static_cast<int>(end);
      EXPECT_TRUE(types.count(e.value("type", ""))) << e.dump();
      const double score = e.value("score", -1.0);
      EXPECT_GT(score, 0.0);
      EXPECT_LE(score, 1.0);
    }
  }
  return count;
}

// The entity types of a tag prompt (its labels are BIO tags).
std::set<std::string> EntityTypes(const json& prompt) {
  std::set<std::string> types;
  for (const json& label : prompt.value("labels", json::array())) {
    const std::string tag = label.get<std::string>();
    if (tag.size() > 2 && tag[1] == '-') types.insert(tag.substr(2));
  }
  return types;
}

std::vector<std::string> Labels(const json& prompt) {
  return prompt.value("labels", std::vector<std::string>());
}

// The last message of a `--wait --json` / `jobs watch --json` run.
json LastJob(const CommandResult& result) {
  absl::StatusOr<std::vector<json>> lines = JsonLines(result.out);
  EXPECT_TRUE(lines.ok()) << lines.status();
  if (!lines.ok() || lines->empty()) return json::object();
  return lines->back();
}

std::string Metrics(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(30, 0);
  auto got = http.Get("/metrics");
  EXPECT_TRUE(got) << "GET /metrics failed";
  if (!got) return "";
  EXPECT_EQ(got->status, 200);
  return got->body;
}

std::vector<Sample> ParsedMetrics(int port) {
  absl::StatusOr<std::vector<Sample>> samples = ParsePrometheusText(Metrics(port));
  EXPECT_TRUE(samples.ok()) << samples.status();
  return samples.ok() ? *samples : std::vector<Sample>();
}

double RequestCount(const std::vector<Sample>& samples, const std::string& method,
                    const std::string& code) {
  return FindSample(samples, "ptune_requests_total", {{"method", method}, {"code", code}})
      .value_or(0);
}

}  // namespace ptune::e2e
