// Small helpers shared by the safetensors reader and writer: checked element
// counts, UTF-8 validation and quoting of untrusted strings for messages.
// Stateless; thread-safe.
#ifndef PTUNE_SERVER_SAFETENSORS_UTIL_H_
#define PTUNE_SERVER_SAFETENSORS_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/safetensors/dtype.h"

namespace ptune::safetensors::internal {

// The byte size of a tensor of `shape` and `dtype`, with every
// multiplication checked. INVALID_ARGUMENT if a dimension is negative, or if
// the product of the non-zero dimensions or the byte size overflows int64
// (so a zero dimension does not hide an overflowing shape: every partial
// product of the shape fits in int64).
absl::StatusOr<uint64_t> CheckedByteSize(const std::vector<int64_t>& shape,
                                         DType dtype);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF). On failure, `*error_offset` (if given) is the
// offset of the first bad byte.
bool IsValidUtf8(absl::string_view text, size_t* error_offset = nullptr);

// `text` with every byte that does not start a well-formed UTF-8 sequence
// replaced by U+FFFD.
std::string ToValidUtf8(absl::string_view text);

// `text` C-escaped, in double quotes, cut to a readable length: for putting
// untrusted names into error messages.
std::string Quote(absl::string_view text);

// "[1, 2, 3]".
std::string ShapeToString(const std::vector<int64_t>& shape);

}  // namespace ptune::safetensors::internal

#endif  // PTUNE_SERVER_SAFETENSORS_UTIL_H_
