#include "server/service/grpc_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ClientStatusTest, ClientErrorsKeepTheirMessage) {
  const grpc::Status s =
      ClientStatus(absl::InvalidArgumentError("texts has 9 entries; the limit is 8"), "Classify");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "texts has 9 entries; the limit is 8");
}

TEST(ClientStatusTest, ServerFaultsAndInternalsGetARequestId) {
  const grpc::Status internal =
      ClientStatus(absl::InternalError("sqlite step: disk I/O error"), "TrainPrompt");
  EXPECT_EQ(internal.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(internal.error_message(), HasSubstr("request id req_"));
  EXPECT_THAT(internal.error_message(), Not(HasSubstr("sqlite")));

  const grpc::Status path = ClientStatus(
      absl::InvalidArgumentError("/tmp/ptune-peft-Ab12/adapter_config.json: not JSON"),
      "ImportPrompt");
  EXPECT_EQ(path.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(path.error_message(), Not(HasSubstr("/tmp/")));
  EXPECT_THAT(path.error_message(), HasSubstr("request id"));

  const grpc::Status unique = ClientStatus(
      absl::AlreadyExistsError("sqlite step: UNIQUE constraint failed: tenants.name"),
      "CreateTenant");
  EXPECT_EQ(unique.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(unique.error_message(), Not(HasSubstr("UNIQUE")));
}

}  // namespace
}  // namespace ptune::service
