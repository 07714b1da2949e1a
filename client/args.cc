#include "client/args.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ptune::client {
namespace {

const FlagSpec* FindSpec(const std::vector<FlagSpec>& specs,
                         const std::string& name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool ParseBoolValue(const std::string& value, bool* out) {
  if (value == "true" || value == "1") {
    *out = true;
    return true;
  }
  if (value == "false" || value == "0") {
    *out = false;
    return true;
  }
  return false;
}

}  // namespace

std::string ParsedArgs::GetString(const std::string& name,
                                  const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

bool ParsedArgs::GetBool(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return false;
  bool value = false;
  return ParseBoolValue(it->second, &value) && value;
}

absl::StatusOr<int64_t> ParsedArgs::GetInt(const std::string& name,
                                           int64_t fallback) const {
  auto it = values.find(name);
  if (it == values.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": \"", it->second, "\" is not an integer"));
  }
  return value;
}

absl::StatusOr<double> ParsedArgs::GetDouble(const std::string& name,
                                             double fallback) const {
  auto it = values.find(name);
  if (it == values.end()) return fallback;
  double value = 0;
  if (!absl::SimpleAtod(it->second, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": \"", it->second, "\" is not a number"));
  }
  return value;
}

std::vector<std::string> ParsedArgs::GetList(const std::string& name) const {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(GetString(name), ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

absl::StatusOr<std::vector<int64_t>> ParsedArgs::GetIntList(
    const std::string& name) const {
  std::vector<int64_t> numbers;
  for (const std::string& item : GetList(name)) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(item, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": \"", item, "\" is not an integer"));
    }
    numbers.push_back(value);
  }
  return numbers;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& specs) {
  ParsedArgs parsed;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || arg.size() < 2 || arg[0] != '-') {
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
      continue;
    }
    if (arg[1] != '-') {
      // "-5" and "-x" are texts, not flags: the only short flag is -h.
      parsed.positional.push_back(arg);
      continue;
    }
    const std::string body = arg.substr(2);
    const size_t equals = body.find('=');
    const std::string name = body.substr(0, equals);
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (parsed.Has(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " given more than once"));
    }
    std::string value;
    if (equals != std::string::npos) {
      value = body.substr(equals + 1);
      bool ignored;
      if (spec->is_bool() && !ParseBoolValue(value, &ignored)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, ": \"", value, "\" is not true or false"));
      }
    } else if (spec->is_bool()) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, " needs a value (--", name, " ", spec->value_name, ")"));
    }
    parsed.values[name] = value;
  }
  return parsed;
}

std::string FlagsHelp(const std::vector<FlagSpec>& specs) {
  std::vector<std::string> left;
  size_t width = 0;
  for (const FlagSpec& spec : specs) {
    left.push_back(spec.is_bool()
                       ? absl::StrCat("--", spec.name)
                       : absl::StrCat("--", spec.name, " ", spec.value_name));
    width = std::max(width, left.back().size());
  }
  std::string help;
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StrAppend(&help, "  ", left[i],
                    std::string(width - left[i].size() + 2, ' '), specs[i].help,
                    "\n");
  }
  return help;
}

}  // namespace ptune::client
