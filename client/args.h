// The command-line flags of `ptune`: a small parser in the style of
// ptune-inspect's absl flags (`--name value` or `--name=value`, snake_case
// names, `--` ends the flags) but per sub-command, so that each command
// accepts and documents only its own flags and parsing is a plain function
// that tests can call. Stateless; thread-safe.
#ifndef PTUNE_CLIENT_ARGS_H_
#define PTUNE_CLIENT_ARGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ptune::client {

// One accepted flag.
struct FlagSpec {
  std::string name;        // Without the leading "--".
  std::string value_name;  // Shown in help ("N", "FILE"); empty = boolean.
  std::string help;

  bool is_bool() const { return value_name.empty(); }
};

// The result of parsing: flag values by name and the positional arguments.
struct ParsedArgs {
  std::map<std::string, std::string> values;
  std::vector<std::string> positional;
  // --help or -h was given.
  bool help = false;

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string GetString(const std::string& name,
                        const std::string& fallback = "") const;
  // A boolean flag: present without a value, or =true/=false/=1/=0.
  bool GetBool(const std::string& name) const;
  // `fallback` when absent; INVALID_ARGUMENT naming the flag when the value
  // is not a number.
  absl::StatusOr<int64_t> GetInt(const std::string& name,
                                 int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name,
                                   double fallback) const;
  // Comma-separated values, blanks trimmed, empty items dropped.
  std::vector<std::string> GetList(const std::string& name) const;
  absl::StatusOr<std::vector<int64_t>> GetIntList(
      const std::string& name) const;
};

// Parses `args` (no program or command names) against `specs`. Arguments that
// start with "--" (before a lone "--") are flags; everything else, and all
// after "--", is positional. A value flag takes "=value" or the next
// argument. INVALID_ARGUMENT for an unknown flag, a value flag without a
// value, a boolean flag with a value other than true/false/1/0, or a flag
// given twice.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& specs);

// One line per flag: "  --name VALUE   help", aligned.
std::string FlagsHelp(const std::vector<FlagSpec>& specs);

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_ARGS_H_
