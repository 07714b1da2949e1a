// A strict reader of the Prometheus text exposition format (version 0.0.4),
// enough to check that a /metrics scrape parses: every sample line is
// `name{label="value",...} value [timestamp]`, every comment is `# HELP name
// text` or `# TYPE name counter|gauge|histogram|summary|untyped` (other
// comments are allowed by the format and skipped).
#ifndef PTUNE_TESTS_E2E_PROMETHEUS_TEXT_H_
#define PTUNE_TESTS_E2E_PROMETHEUS_TEXT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ptune::e2e {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

// All samples of `text`, or INVALID_ARGUMENT naming the first bad line.
absl::StatusOr<std::vector<Sample>> ParsePrometheusText(const std::string& text);

// The value of the sample `name` whose labels include all of `labels`;
// std::nullopt when none matches.
std::optional<double> FindSample(const std::vector<Sample>& samples,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& labels);

}  // namespace ptune::e2e

#endif  // PTUNE_TESTS_E2E_PROMETHEUS_TEXT_H_
