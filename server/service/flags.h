// The ptune-server command line: every Server::Options field as an ABSL_FLAG
// whose help says what it trades off.
#ifndef PTUNE_SERVER_SERVICE_FLAGS_H_
#define PTUNE_SERVER_SERVICE_FLAGS_H_

#include "absl/status/statusor.h"
#include "server/service/server.h"

namespace ptune::service {

// Call after absl::ParseCommandLine. INVALID_ARGUMENT names a bad flag.
absl::StatusOr<Server::Options> ServerOptionsFromFlags();

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_FLAGS_H_
