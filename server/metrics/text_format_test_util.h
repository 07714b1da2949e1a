// Test helper: parses the Prometheus text exposition format into samples so
// that tests check names, labels and values rather than string fragments.
#ifndef PTUNE_SERVER_METRICS_TEXT_FORMAT_TEST_UTIL_H_
#define PTUNE_SERVER_METRICS_TEXT_FORMAT_TEST_UTIL_H_

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ptune::metrics::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses every sample line; comment lines (# HELP, # TYPE) are skipped.
// A line that does not parse yields a sample named "<unparsed>" so that tests
// notice it.
inline std::vector<Sample> ParseSamples(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample sample;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    sample.name = line.substr(0, i);
    bool ok = true;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (ok && i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() ||
            line[eq + 1] != '"') {
          ok = false;
          break;
        }
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) {
          ok = false;
          break;
        }
        sample.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) ok = false;
      ++i;  // '}'
    }
    if (ok && i < line.size() && line[i] == ' ') {
      char* end = nullptr;
      const std::string rest = line.substr(i + 1);
      sample.value = std::strtod(rest.c_str(), &end);
      ok = end != rest.c_str();
    } else {
      ok = false;
    }
    if (!ok) sample.name = "<unparsed>";
    samples.push_back(std::move(sample));
  }
  return samples;
}

// The value of the sample with exactly this name and these labels; an "le"
// label is compared numerically (so "0.01" matches "1e-02").
inline std::optional<double> Find(
    const std::vector<Sample>& samples, const std::string& name,
    const std::map<std::string, std::string>& labels = {}) {
  for (const Sample& s : samples) {
    if (s.name != name || s.labels.size() != labels.size()) continue;
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = s.labels.find(key);
      if (it == s.labels.end()) {
        match = false;
      } else if (key == "le") {
        match = std::strtod(it->second.c_str(), nullptr) ==
                std::strtod(value.c_str(), nullptr);
      } else {
        match = it->second == value;
      }
      if (!match) break;
    }
    if (match) return s.value;
  }
  return std::nullopt;
}

}  // namespace ptune::metrics::testing

#endif  // PTUNE_SERVER_METRICS_TEXT_FORMAT_TEST_UTIL_H_
