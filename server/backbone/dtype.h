// The names of the backbone's serving precisions (Backbone::Options::dtype,
// ptune-inspect convert-weights --dtype). Thread-safe.
#ifndef PTUNE_SERVER_BACKBONE_DTYPE_H_
#define PTUNE_SERVER_BACKBONE_DTYPE_H_

#include <c10/core/ScalarType.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::backbone {

// "float32" (or "fp32"), "bfloat16" ("bf16") or "float16" ("fp16").
// Which device supports which is Backbone::Create's check.
absl::StatusOr<at::ScalarType> ParseDtype(absl::string_view name);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_DTYPE_H_
