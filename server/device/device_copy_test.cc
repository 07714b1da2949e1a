#include "server/device/device_copy.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "server/device/device_runtime.h"

namespace ptune::device {
namespace {

TEST(DeviceCopyTest, Int64ValuesAndShapeOnCpu) {
  const at::Tensor t = ToDevice({1, 2, 3, 4, 5, 6}, c10::Device(c10::kCPU), {2, 3});
  ASSERT_EQ(t.scalar_type(), at::kLong);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t[1][2].item<int64_t>(), 6);
  EXPECT_EQ(t[0][1].item<int64_t>(), 2);
}

TEST(DeviceCopyTest, OneDimensionalByDefaultAndEmpty) {
  EXPECT_EQ(ToDevice({7, 8}, c10::Device(c10::kCPU)).sizes(),
            (std::vector<int64_t>{2}));
  const at::Tensor empty = ToDevice({}, c10::Device(c10::kCPU));
  EXPECT_EQ(empty.numel(), 0);
}

TEST(DeviceCopyTest, MaskNormalizesBytesToBools) {
  const at::Tensor m = MaskToDevice({0, 1, 2, 0}, c10::Device(c10::kCPU), {2, 2});
  ASSERT_EQ(m.scalar_type(), at::kBool);
  EXPECT_FALSE(m[0][0].item<bool>());
  EXPECT_TRUE(m[0][1].item<bool>());
  EXPECT_TRUE(m[1][0].item<bool>());  // 2 -> true
  EXPECT_EQ(m.sum().item<int64_t>(), 2);
}

TEST(DeviceRuntimeTest, CpuHasNoDeviceMemoryFigures) {
  EXPECT_EQ(QueryDeviceMemory(c10::Device(c10::kCPU)).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(DeviceRuntimeTest, ForbidDeviceSyncsLeavesCpuWorkAlone) {
  ForbidDeviceSyncs forbid;
  const at::Tensor t = ToDevice({1, 2}, c10::Device(c10::kCPU));
  EXPECT_EQ(t.sum().item<int64_t>(), 3);  // no device: nothing to forbid
}

}  // namespace
}  // namespace ptune::device
