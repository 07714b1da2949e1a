#include "server/safetensors/dtype.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/safetensors/util.h"

namespace ptune::safetensors {
namespace {

constexpr std::array<std::pair<DType, absl::string_view>, 10> kNames = {{
    {DType::kBool, "BOOL"},
    {DType::kU8, "U8"},
    {DType::kI8, "I8"},
    {DType::kI16, "I16"},
    {DType::kI32, "I32"},
    {DType::kI64, "I64"},
    {DType::kF16, "F16"},
    {DType::kBF16, "BF16"},
    {DType::kF32, "F32"},
    {DType::kF64, "F64"},
}};

// Defined by the safetensors format (reference implementation's Dtype enum)
// but not supported here.
constexpr std::array<absl::string_view, 12> kUnsupportedNames = {
    "U16",     "U32",     "U64", "F8_E5M2", "F8_E4M3",     "F8_E8M0",
    "F6_E2M3", "F6_E3M2", "F4",  "C64",     "F8_E4M3FNUZ", "F8_E5M2FNUZ",
};

}  // namespace

absl::string_view DTypeName(DType dtype) {
  for (const auto& [d, name] : kNames) {
    if (d == dtype) return name;
  }
  return "INVALID";
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kBool:
    case DType::kU8:
    case DType::kI8:
      return 1;
    case DType::kI16:
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kI32:
    case DType::kF32:
      return 4;
    case DType::kI64:
    case DType::kF64:
      return 8;
  }
  return 0;
}

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  for (const auto& [d, n] : kNames) {
    if (n == name) return d;
  }
  for (absl::string_view n : kUnsupportedNames) {
    if (n == name) {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported dtype ", internal::Quote(name),
                       ": defined by safetensors but not supported by ptune "
                       "(supported: BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64)"));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype ", internal::Quote(name),
                   " (supported: BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64)"));
}

}  // namespace ptune::safetensors
