// A grpc.health.v1 Check against a server address, for tests that watch a
// server's health (e.g. while it drains).
#ifndef PTUNE_TESTS_E2E_HEALTH_CHECK_H_
#define PTUNE_TESTS_E2E_HEALTH_CHECK_H_

#include <string>

#include "absl/status/statusor.h"

namespace ptune::e2e {

// "SERVING", "NOT_SERVING", ... for the whole server (service ""), or the
// RPC's error (UNAVAILABLE once nothing listens).
absl::StatusOr<std::string> CheckHealth(const std::string& address);

}  // namespace ptune::e2e

#endif  // PTUNE_TESTS_E2E_HEALTH_CHECK_H_
