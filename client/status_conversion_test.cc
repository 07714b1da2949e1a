#include "client/status_conversion.h"

#include <string>

#include "gtest/gtest.h"

namespace ptune::client {
namespace {

TEST(StatusConversionTest, OkIsOk) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(StatusConversionTest, EveryCodeMapsToTheSameCodeAndKeepsTheMessage) {
  for (int code = 1; code <= 16; ++code) {
    const std::string message = "what happened " + std::to_string(code);
    const absl::Status status = FromGrpcStatus(
        grpc::Status(static_cast<grpc::StatusCode>(code), message));
    EXPECT_EQ(static_cast<int>(status.code()), code);
    EXPECT_EQ(status.message(), message);
    const grpc::Status back = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(back.error_code()), code);
    EXPECT_EQ(back.error_message(), message);
  }
}

TEST(StatusConversionTest, NamedCodes) {
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "k"))
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "q"))
          .code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(StatusConversionTest, UnknownCodeBecomesUnknown) {
  // 20: no google.rpc code, yet a value grpc::StatusCode can hold (its
  // enumerators span -1..16, so the type holds -32..31; 99 would be
  // undefined behaviour, which UBSan reports).
  const absl::Status status =
      FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(20), "odd"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "odd");
}

}  // namespace
}  // namespace ptune::client
