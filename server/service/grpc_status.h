// The one place where absl::Status becomes grpc::Status (ARCHITECTURE §5).
#ifndef PTUNE_SERVER_SERVICE_GRPC_STATUS_H_
#define PTUNE_SERVER_SERVICE_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ptune::service {

// Same code (the two enums share their numbering) and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// What a client of `method` is told about `status`: the same code, and the
// message unless it is a server fault (INTERNAL, UNKNOWN, DATA_LOSS) or
// carries server internals (SQL engine text, server file paths). Those get a
// message written for the client with a request id; the original goes to
// the log under that id. Every handler's status passes through here
// (CallRecorder::Done).
grpc::Status ClientStatus(const absl::Status& status, absl::string_view method);

// The code's canonical name ("OK", "NOT_FOUND", ...), the `code` label of
// ptune_requests_total.
absl::string_view CodeName(grpc::StatusCode code);

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_GRPC_STATUS_H_
