// The one place where gRPC statuses become absl::Status (and back, for test
// servers). The codes are the same google.rpc codes on both sides; the
// message is kept verbatim. Stateless; thread-safe.
#ifndef PTUNE_CLIENT_STATUS_CONVERSION_H_
#define PTUNE_CLIENT_STATUS_CONVERSION_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace ptune::client {

// grpc::Status -> absl::Status with the same code and message. OK stays OK
// (its message, if any, is dropped as absl requires).
absl::Status FromGrpcStatus(const grpc::Status& status);

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_STATUS_CONVERSION_H_
