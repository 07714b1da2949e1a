// Compares the metrics with seqeval and scikit-learn on the cases of
// tests/fixtures/metrics/reference.json (tests/tools/gen_metrics_fixtures.py).
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/training/metrics.h"
#include "tests/testing/test_paths.h"

namespace ptune::training {
namespace {

constexpr double kTolerance = 1e-9;

nlohmann::json LoadFixture() {
  const std::string path =
      ptune::testing::SourceDir() + "/tests/fixtures/metrics/reference.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json fixture =
      nlohmann::json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(fixture.is_discarded()) << "bad JSON in " << path;
  return fixture;
}

TEST(MetricsReferenceTest, EntityScoresMatchSeqeval) {
  const nlohmann::json fixture = LoadFixture();
  ASSERT_TRUE(fixture.is_object());
  const nlohmann::json& cases = fixture["tagging"];
  ASSERT_GE(cases.size(), 300u);
  for (const nlohmann::json& c : cases) {
    const std::string name = c["name"].get<std::string>();
    const auto gold = c["gold"].get<std::vector<std::vector<std::string>>>();
    const auto pred = c["pred"].get<std::vector<std::vector<std::string>>>();
    const EntityScores s = ScoreEntities(gold, pred);
    EXPECT_NEAR(s.precision, c["precision"].get<double>(), kTolerance) << name;
    EXPECT_NEAR(s.recall, c["recall"].get<double>(), kTolerance) << name;
    EXPECT_NEAR(s.f1, c["f1"].get<double>(), kTolerance) << name;
    const nlohmann::json& per_type = c["per_type"];
    EXPECT_EQ(s.per_type.size(), per_type.size()) << name;
    for (const auto& [type, expected] : per_type.items()) {
      const auto it = s.per_type.find(type);
      ASSERT_NE(it, s.per_type.end()) << name << " " << type;
      EXPECT_NEAR(it->second.precision, expected["precision"].get<double>(),
                  kTolerance)
          << name << " " << type;
      EXPECT_NEAR(it->second.recall, expected["recall"].get<double>(),
                  kTolerance)
          << name << " " << type;
      EXPECT_NEAR(it->second.f1, expected["f1"].get<double>(), kTolerance)
          << name << " " << type;
      EXPECT_EQ(it->second.support, expected["support"].get<int64_t>())
          << name << " " << type;
    }
  }
}

TEST(MetricsReferenceTest, ClassificationMatchesScikitLearn) {
  const nlohmann::json fixture = LoadFixture();
  ASSERT_TRUE(fixture.is_object());
  const nlohmann::json& cases = fixture["classification"];
  ASSERT_GE(cases.size(), 100u);
  for (const nlohmann::json& c : cases) {
    const std::string name = c["name"].get<std::string>();
    const auto gold = c["gold"].get<std::vector<int>>();
    const auto pred = c["pred"].get<std::vector<int>>();
    const int num_classes = c["num_classes"].get<int>();
    EXPECT_NEAR(Accuracy(gold, pred), c["accuracy"].get<double>(), kTolerance)
        << name;
    EXPECT_NEAR(MacroF1(gold, pred, num_classes), c["macro_f1"].get<double>(),
                kTolerance)
        << name;
    const ClassificationScores report = ScoreClassification(gold, pred, num_classes);
    EXPECT_NEAR(report.accuracy, c["accuracy"].get<double>(), kTolerance) << name;
    EXPECT_NEAR(report.macro_f1, c["macro_f1"].get<double>(), kTolerance) << name;
    const nlohmann::json& per_label = c["per_label"];
    ASSERT_EQ(report.per_label.size(), per_label.size()) << name;
    for (size_t l = 0; l < per_label.size(); ++l) {
      const ClassScores& s = report.per_label[l];
      EXPECT_NEAR(s.precision, per_label[l]["precision"].get<double>(), kTolerance)
          << name << " label " << l;
      EXPECT_NEAR(s.recall, per_label[l]["recall"].get<double>(), kTolerance)
          << name << " label " << l;
      EXPECT_NEAR(s.f1, per_label[l]["f1"].get<double>(), kTolerance)
          << name << " label " << l;
      EXPECT_EQ(s.support, per_label[l]["support"].get<int64_t>()) << name << " label " << l;
    }
    std::vector<int64_t> confusion;
    for (const nlohmann::json& row : c["confusion"]) {
      for (const nlohmann::json& cell : row) confusion.push_back(cell.get<int64_t>());
    }
    EXPECT_EQ(report.confusion, confusion) << name;
  }
}

}  // namespace
}  // namespace ptune::training
