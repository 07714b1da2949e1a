// Conversions between LibTorch tensors and safetensors views/bytes. Used to
// load backbone weights and to save and load prompt artifacts.
#ifndef PTUNE_SERVER_BACKBONE_TENSOR_IO_H_
#define PTUNE_SERVER_BACKBONE_TENSOR_IO_H_

#include <string>

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/safetensors/safetensors.h"

namespace ptune::backbone {

// A float32 CPU copy of a floating-point view (F32, F16, BF16, F64).
absl::StatusOr<at::Tensor> TensorFromView(const safetensors::TensorView& view,
                                          absl::string_view name);

// Reads tensor `name` of `file` as float32 and checks its shape when
// `expected_shape` is not empty.
absl::StatusOr<at::Tensor> ReadTensor(const safetensors::SafetensorsFile& file,
                                      const std::string& name,
                                      const std::vector<int64_t>& expected_shape = {});

// Adds `tensor` (any device) to `writer` under `name`, stored as `dtype`:
// float32 (the default), bfloat16 or float16.
absl::Status AddTensor(safetensors::SafetensorsWriter& writer,
                       const std::string& name, const at::Tensor& tensor,
                       at::ScalarType dtype = at::kFloat);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_TENSOR_IO_H_
