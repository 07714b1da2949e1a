#include "server/device/device_runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptune::device {
namespace {

using ::testing::HasSubstr;

TEST(DeviceRuntimeTest, HalfPrecisionNeedsAGpuWithItsKernels) {
  // Volta (7.0) has float16 tensor cores but no bfloat16; Ampere (8.0) and
  // Hopper (9.0) have both.
  const absl::Status volta_bf16 = CheckCudaDtype(at::kBFloat16, {7, 0});
  EXPECT_EQ(volta_bf16.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(volta_bf16.message(), HasSubstr("compute capability 8.0"));
  EXPECT_THAT(volta_bf16.message(), HasSubstr("this GPU has compute capability 7.0"));
  EXPECT_THAT(volta_bf16.message(), HasSubstr("--dtype float16"));
  EXPECT_TRUE(CheckCudaDtype(at::kHalf, {7, 0}).ok());
  EXPECT_EQ(CheckCudaDtype(at::kHalf, {5, 2}).code(), absl::StatusCode::kInvalidArgument);
  for (const ComputeCapability capability : {ComputeCapability{8, 0}, {8, 9}, {9, 0}}) {
    EXPECT_TRUE(CheckCudaDtype(at::kBFloat16, capability).ok()) << capability.major;
    EXPECT_TRUE(CheckCudaDtype(at::kHalf, capability).ok()) << capability.major;
  }
  EXPECT_TRUE(CheckCudaDtype(at::kFloat, {3, 5}).ok());
}

TEST(DeviceRuntimeTest, ComputeCapabilityOnlyForCudaDevices) {
  EXPECT_EQ(QueryComputeCapability(c10::Device(c10::kCPU)).status().code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace ptune::device
