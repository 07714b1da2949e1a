// Structured one-line logs (ARCHITECTURE §8): each call writes one JSON
// object to stderr, e.g.
//   {"ts":"2026-11-28T16:50:01.123Z","level":"info","component":"server","msg":"..."}
// so that log collectors parse lines without a grammar. Thread-safe: lines
// never interleave.
#ifndef PTUNE_SERVER_LOGGING_LOG_H_
#define PTUNE_SERVER_LOGGING_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ptune::logging {

enum class LogLevel { kInfo, kWarning, kError };

// `fields` are extra string members of the object ("job_id", "...").
// Lines below the minimum level (SetMinLogLevel) are dropped.
void Log(LogLevel level, absl::string_view component, absl::string_view message,
         const std::vector<std::pair<std::string, std::string>>& fields = {});

// The least severe level written (default: info). Thread-safe.
void SetMinLogLevel(LogLevel level);
// "info" | "warning" | "error".
bool ParseLogLevel(absl::string_view name, LogLevel* level);

}  // namespace ptune::logging

#endif  // PTUNE_SERVER_LOGGING_LOG_H_
