#include "server/service/health_watchdog.h"

#include <string>

#include "server/logging/log.h"

namespace ptune::service {

bool HealthWatchdog::Check() {
  const absl::Duration turn = current_turn_();
  const bool serving = turn <= stall_timeout_;
  {
    absl::MutexLock lock(&mu_);
    if (serving == serving_) return serving;
    serving_ = serving;
  }
  if (serving) {
    logging::Log(logging::LogLevel::kInfo, "watchdog",
                 "the device executor is making progress again: health SERVING");
  } else {
    logging::Log(logging::LogLevel::kError, "watchdog",
                 "the device executor is stuck in one turn: health NOT_SERVING",
                 {{"turn_seconds", std::to_string(absl::ToDoubleSeconds(turn))},
                  {"stall_timeout_seconds",
                  std::to_string(absl::ToDoubleSeconds(stall_timeout_))}});
  }
  set_serving_(serving);
  return serving;
}

bool HealthWatchdog::serving() const {
  absl::MutexLock lock(&mu_);
  return serving_;
}

}  // namespace ptune::service
