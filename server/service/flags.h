// The ptune-server command line: every Server::Options field as an ABSL_FLAG
// whose help says what it trades off.
#ifndef PTUNE_SERVER_SERVICE_FLAGS_H_
#define PTUNE_SERVER_SERVICE_FLAGS_H_

#include "absl/status/statusor.h"
#include "server/logging/log.h"
#include "server/service/server.h"

namespace ptune::service {

// Call after absl::ParseCommandLine. INVALID_ARGUMENT names a bad flag.
absl::StatusOr<Server::Options> ServerOptionsFromFlags();

// --log_level (a process setting, not a Server option).
absl::StatusOr<logging::LogLevel> LogLevelFromFlags();

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_FLAGS_H_
