// Parses and validates the JSON header of a safetensors file against the size
// of its data buffer. Stateless; thread-safe.
#ifndef PTUNE_SERVER_SAFETENSORS_HEADER_PARSER_H_
#define PTUNE_SERVER_SAFETENSORS_HEADER_PARSER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/safetensors/dtype.h"

namespace ptune::safetensors::internal {

// Where one tensor lives: [begin, end) relative to the data buffer.
struct TensorInfo {
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// A validated header: every tensor lies inside the buffer, its byte range
// matches shape and dtype, no two tensors overlap and together they cover the
// buffer exactly (as the reference implementation requires).
struct Header {
  std::map<std::string, std::string> metadata;
  std::map<std::string, TensorInfo, std::less<>> tensors;
};

// The deepest JSON nesting a header may have. A valid header needs 3
// (object > tensor entry > shape); extra fields may nest a little more.
inline constexpr int kMaxHeaderDepth = 32;

// Parses `json` (the N header bytes) for a data buffer of `buffer_size`
// bytes. Errors are INVALID_ARGUMENT, or DATA_LOSS when a tensor ends beyond
// the buffer (a truncated file); messages do not name the file.
absl::StatusOr<Header> ParseHeader(absl::string_view json,
                                   uint64_t buffer_size);

}  // namespace ptune::safetensors::internal

#endif  // PTUNE_SERVER_SAFETENSORS_HEADER_PARSER_H_
