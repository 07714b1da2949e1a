#include "server/backbone/tensor_io.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"

namespace ptune::backbone {
namespace {

using safetensors::DType;

absl::StatusOr<at::ScalarType> FloatType(DType dtype, absl::string_view name) {
  switch (dtype) {
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
    case DType::kF64:
      return at::kDouble;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor \"", name, "\" must be F32, F16, BF16 or F64, not ",
          safetensors::DTypeName(dtype)));
  }
}

}  // namespace

absl::StatusOr<at::Tensor> TensorFromView(const safetensors::TensorView& view,
                                          absl::string_view name) {
  ASSIGN_OR_RETURN(const at::ScalarType type, FloatType(view.dtype, name));
  return common::TorchCall(absl::StrCat("reading ", name), [&] {
    // from_blob does not copy; to() makes an owned float32 tensor.
    return at::from_blob(const_cast<uint8_t*>(view.data), view.shape,
                         at::TensorOptions().dtype(type))
        .to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  });
}

absl::StatusOr<at::Tensor> ReadTensor(const safetensors::SafetensorsFile& file,
                                      const std::string& name,
                                      const std::vector<int64_t>& expected_shape) {
  ASSIGN_OR_RETURN(const safetensors::TensorView view, file.Get(name));
  if (!expected_shape.empty() && view.shape != expected_shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.source_name(), ": tensor \"", name, "\" has shape [",
        absl::StrJoin(view.shape, ","), "], expected [",
        absl::StrJoin(expected_shape, ","), "]"));
  }
  return TensorFromView(view, name);
}

absl::Status AddTensor(safetensors::SafetensorsWriter& writer,
                       const std::string& name, const at::Tensor& tensor,
                       at::ScalarType dtype) {
  DType stored;
  switch (dtype) {
    case at::kFloat: stored = DType::kF32; break;
    case at::kBFloat16: stored = DType::kBF16; break;
    case at::kHalf: stored = DType::kF16; break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot store \"", name, "\" as ", c10::toString(dtype),
          " (float32, bfloat16, float16)"));
  }
  ASSIGN_OR_RETURN(const at::Tensor cpu,
                   common::TorchCall("saving " + name, [&] {
                     return tensor.detach().to(at::kCPU, dtype).contiguous();
                   }));
  return writer.Add(name, stored, cpu.sizes().vec(),
                    absl::string_view(static_cast<const char*>(cpu.data_ptr()),
                                      cpu.nbytes()));
}

}  // namespace ptune::backbone
