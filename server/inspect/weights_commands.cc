// convert-weights: a safetensors weights file with every floating-point
// tensor stored in another precision (integer tensors copied as they are).
// tests/cuda/bundle.sh stores the default backbone in bfloat16 so that the
// GPU check's bundle fits its size limit; the backbone loader reads any
// floating type.
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/backbone/dtype.h"
#include "server/backbone/tensor_io.h"
#include "server/common/status_macros.h"
#include "server/inspect/commands.h"
#include "server/inspect/flags.h"
#include "server/safetensors/safetensors_file.h"
#include "server/safetensors/safetensors_writer.h"

ABSL_FLAG(std::string, in, "", "convert-weights: the safetensors file to read.");

namespace ptune::inspect {

absl::Status RunConvertWeights() {
  const std::string in = absl::GetFlag(FLAGS_in), out = absl::GetFlag(FLAGS_out);
  if (in.empty() || out.empty()) {
    return absl::InvalidArgumentError("--in FILE and --out FILE are required");
  }
  if (in == out) return absl::InvalidArgumentError("--out must differ from --in");
  const std::string name = absl::GetFlag(FLAGS_dtype);
  ASSIGN_OR_RETURN(const at::ScalarType dtype, backbone::ParseDtype(name));
  ASSIGN_OR_RETURN(auto file, safetensors::SafetensorsFile::Open(in));
  safetensors::SafetensorsWriter writer;
  int64_t converted = 0;
  for (const std::string& tensor : file->names()) {
    ASSIGN_OR_RETURN(const safetensors::TensorView view, file->Get(tensor));
    const bool floating = view.dtype == safetensors::DType::kF32 ||
                          view.dtype == safetensors::DType::kF16 ||
                          view.dtype == safetensors::DType::kBF16 ||
                          view.dtype == safetensors::DType::kF64;
    if (!floating) {
      RETURN_IF_ERROR(writer.Add(tensor, view.dtype, view.shape,
                                 absl::string_view(reinterpret_cast<const char*>(view.data),
                                                   view.nbytes)));
      continue;
    }
    ASSIGN_OR_RETURN(const at::Tensor values, backbone::TensorFromView(view, tensor));
    RETURN_IF_ERROR(backbone::AddTensor(writer, tensor, values, dtype));
    ++converted;
  }
  RETURN_IF_ERROR(writer.WriteFile(out));
  std::cerr << absl::StrFormat("%s: %d floating tensors stored as %s\n", out,
                               converted, name);
  return absl::OkStatus();
}

}  // namespace ptune::inspect
