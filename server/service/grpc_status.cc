#include "server/service/grpc_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/logging/log.h"
#include "server/store/store.h"

namespace ptune::service {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode both follow google.rpc.Code.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

namespace {

// Text that only the server should see: SQL engine errors, scratch and data
// paths. (Names in messages are [A-Za-z0-9._-], so they never match.)
bool LeaksInternals(absl::string_view message) {
  for (absl::string_view marker :
       {"sqlite ", "constraint failed", "/tmp/", "/ptune-peft-"}) {
    if (absl::StrContains(message, marker)) return true;
  }
  return false;
}

}  // namespace

grpc::Status ClientStatus(const absl::Status& status, absl::string_view method) {
  if (status.ok()) return grpc::Status::OK;
  const absl::StatusCode code = status.code();
  const bool fault = code == absl::StatusCode::kInternal ||
                     code == absl::StatusCode::kUnknown ||
                     code == absl::StatusCode::kDataLoss;
  if (!fault && !LeaksInternals(status.message())) return ToGrpcStatus(status);
  const std::string request_id = store::NewId("req_");
  logging::Log(logging::LogLevel::kError, "service", "call failed",
               {{"method", std::string(method)},
                {"request_id", request_id},
                {"code", std::string(CodeName(static_cast<grpc::StatusCode>(code)))},
                {"error", std::string(status.message())}});
  const std::string message =
      fault ? absl::StrCat("internal error in ", method, " (request id ", request_id,
                           "); the server log has the details")
            : absl::StrCat(method, " failed (request id ", request_id,
                           "); the server log has the details");
  return grpc::Status(static_cast<grpc::StatusCode>(code), message);
}

absl::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace ptune::service
