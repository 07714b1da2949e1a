#include "tests/e2e/prometheus_text.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace ptune::e2e {
namespace {

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

// Consumes a metric (or, without colons, label) name from the front of `s`.
bool ConsumeName(absl::string_view& s, bool allow_colon, std::string* name) {
  size_t n = 0;
  while (n < s.size() && IsNameChar(s[n]) && (allow_colon || s[n] != ':') &&
         (n > 0 || IsNameStart(s[n]))) {
    ++n;
  }
  if (n == 0) return false;
  *name = std::string(s.substr(0, n));
  s.remove_prefix(n);
  return true;
}

// Consumes `"..."` with the escapes \\ \" \n.
bool ConsumeQuoted(absl::string_view& s, std::string* value) {
  if (s.empty() || s[0] != '"') return false;
  value->clear();
  for (size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      s.remove_prefix(i + 1);
      return true;
    }
    if (c == '\\') {
      if (++i == s.size()) return false;
      switch (s[i]) {
        case '\\': value->push_back('\\'); break;
        case '"': value->push_back('"'); break;
        case 'n': value->push_back('\n'); break;
        default: return false;
      }
      continue;
    }
    if (c == '\n') return false;
    value->push_back(c);
  }
  return false;
}

bool ParseValue(absl::string_view s, double* value) {
  if (s == "+Inf" || s == "Inf") *value = HUGE_VAL;
  else if (s == "-Inf") *value = -HUGE_VAL;
  else if (s == "NaN") *value = std::nan("");
  else {
    if (s.empty()) return false;
    const std::string copy(s);
    char* end = nullptr;
    *value = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size()) return false;
  }
  return true;
}

bool ParseSampleLine(absl::string_view s, Sample* sample) {
  if (!ConsumeName(s, /*allow_colon=*/true, &sample->name)) return false;
  if (!s.empty() && s[0] == '{') {
    s.remove_prefix(1);
    while (!s.empty() && s[0] != '}') {
      std::string label, value;
      if (!ConsumeName(s, /*allow_colon=*/false, &label)) return false;
      if (s.empty() || s[0] != '=') return false;
      s.remove_prefix(1);
      if (!ConsumeQuoted(s, &value)) return false;
      if (!sample->labels.emplace(label, value).second) return false;
      if (!s.empty() && s[0] == ',') s.remove_prefix(1);
    }
    if (s.empty()) return false;
    s.remove_prefix(1);  // '}'
  }
  if (s.empty() || s[0] != ' ') return false;
  s.remove_prefix(1);
  std::vector<absl::string_view> rest = absl::StrSplit(s, ' ');
  if (rest.empty() || rest.size() > 2) return false;
  if (!ParseValue(rest[0], &sample->value)) return false;
  if (rest.size() == 2) {  // timestamp: an integer (milliseconds)
    if (rest[1].empty()) return false;
    for (size_t i = 0; i < rest[1].size(); ++i) {
      const char c = rest[1][i];
      if (!std::isdigit(static_cast<unsigned char>(c)) && !(i == 0 && c == '-')) {
        return false;
      }
    }
  }
  return true;
}

bool ParseComment(absl::string_view s) {
  const bool help = absl::ConsumePrefix(&s, "# HELP ");
  const bool type = !help && absl::ConsumePrefix(&s, "# TYPE ");
  if (!help && !type) return true;  // a free comment
  std::string name;
  if (!ConsumeName(s, /*allow_colon=*/true, &name)) return false;
  if (help) return s.empty() || s[0] == ' ';
  return s == " counter" || s == " gauge" || s == " histogram" ||
         s == " summary" || s == " untyped";
}

}  // namespace

absl::StatusOr<std::vector<Sample>> ParsePrometheusText(const std::string& text) {
  std::vector<Sample> samples;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    const bool ok = line[0] == '#' ? ParseComment(line)
                                   : ParseSampleLine(line, &samples.emplace_back());
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, " does not parse: ", line));
    }
  }
  return samples;
}

std::optional<double> FindSample(const std::vector<Sample>& samples,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& labels) {
  for (const Sample& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = sample.labels.find(key);
      match = match && it != sample.labels.end() && it->second == value;
    }
    if (match) return sample.value;
  }
  return std::nullopt;
}

}  // namespace ptune::e2e
