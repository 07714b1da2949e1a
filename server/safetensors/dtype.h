// Element types of safetensors tensors, their on-disk names and sizes.
#ifndef PTUNE_SERVER_SAFETENSORS_DTYPE_H_
#define PTUNE_SERVER_SAFETENSORS_DTYPE_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::safetensors {

// The element types ptune reads and writes. The safetensors format knows more
// (U16/U32/U64, the F8/F6/F4 families, C64); ParseDType rejects those.
enum class DType { kBool, kU8, kI8, kI16, kI32, kI64, kF16, kBF16, kF32, kF64 };

// The name used in the JSON header, e.g. "F32", "BOOL".
absl::string_view DTypeName(DType dtype);

// Bytes per element.
size_t DTypeSize(DType dtype);

// Parses a header dtype name. Names of types that the safetensors format
// defines but ptune does not support, and unknown names, are
// INVALID_ARGUMENT.
absl::StatusOr<DType> ParseDType(absl::string_view name);

}  // namespace ptune::safetensors

#endif  // PTUNE_SERVER_SAFETENSORS_DTYPE_H_
