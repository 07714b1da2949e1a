#include "server/backbone/tensor_io.h"

#include <ATen/ATen.h>

#include "gtest/gtest.h"
#include "server/safetensors/safetensors_file.h"
#include "server/safetensors/safetensors_writer.h"

namespace ptune::backbone {
namespace {

// A tensor stored as `dtype` and read back (as float32).
at::Tensor RoundTrip(const at::Tensor& values, at::ScalarType dtype,
                     safetensors::DType* stored = nullptr) {
  safetensors::SafetensorsWriter writer;
  EXPECT_TRUE(AddTensor(writer, "w", values, dtype).ok());
  auto file = safetensors::SafetensorsFile::FromBuffer(writer.Serialize(), "test");
  EXPECT_TRUE(file.ok()) << file.status();
  auto view = (*file)->Get("w");
  EXPECT_TRUE(view.ok()) << view.status();
  if (stored != nullptr) *stored = view->dtype;
  auto read = TensorFromView(*view, "w");
  EXPECT_TRUE(read.ok()) << read.status();
  return *read;
}

TEST(TensorIoTest, StoresFloat32BFloat16AndFloat16) {
  at::manual_seed(0);
  const at::Tensor values = at::randn({7, 5}) * 3;
  safetensors::DType stored;
  EXPECT_TRUE(at::equal(RoundTrip(values, at::kFloat, &stored), values));
  EXPECT_EQ(stored, safetensors::DType::kF32);
  // Half the bytes; each value rounded to the type (8 / 11 mantissa bits).
  const at::Tensor bf16 = RoundTrip(values, at::kBFloat16, &stored);
  EXPECT_EQ(stored, safetensors::DType::kBF16);
  EXPECT_TRUE(at::equal(bf16, values.to(at::kBFloat16).to(at::kFloat)));
  EXPECT_FALSE(at::equal(bf16, values));
  const at::Tensor fp16 = RoundTrip(values, at::kHalf, &stored);
  EXPECT_EQ(stored, safetensors::DType::kF16);
  EXPECT_TRUE(at::equal(fp16, values.to(at::kHalf).to(at::kFloat)));
}

TEST(TensorIoTest, RefusesNonFloatingStorage) {
  safetensors::SafetensorsWriter writer;
  const absl::Status status = AddTensor(writer, "w", at::ones({2}), at::kLong);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("cannot store \"w\" as Long"), std::string::npos) << status;
}

}  // namespace
}  // namespace ptune::backbone
