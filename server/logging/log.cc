#include "server/logging/log.h"

#include <atomic>

#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ptune::logging {

namespace {
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace

void SetMinLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

bool ParseLogLevel(absl::string_view name, LogLevel* level) {
  if (name == "info") *level = LogLevel::kInfo;
  else if (name == "warning") *level = LogLevel::kWarning;
  else if (name == "error") *level = LogLevel::kError;
  else return false;
  return true;
}

void Log(LogLevel level, absl::string_view component, absl::string_view message,
         const std::vector<std::pair<std::string, std::string>>& fields) {
  if (static_cast<int>(level) < min_level.load()) return;
  nlohmann::ordered_json line;
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line["level"] = level == LogLevel::kInfo      ? "info"
                  : level == LogLevel::kWarning ? "warning"
                                                : "error";
  line["component"] = std::string(component);
  line["msg"] = std::string(message);
  for (const auto& [key, value] : fields) line[key] = value;
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace ptune::logging
