// A non-owning view of one tensor's bytes inside a safetensors file.
#ifndef PTUNE_SERVER_SAFETENSORS_TENSOR_VIEW_H_
#define PTUNE_SERVER_SAFETENSORS_TENSOR_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/safetensors/dtype.h"

namespace ptune::safetensors {

// What a SafetensorsFile hands out for one tensor: its dtype, shape and a
// pointer to its `nbytes` little-endian, row-major bytes. Does not own the
// bytes; they live as long as the SafetensorsFile that returned the view.
// `data` is not necessarily aligned to the dtype's size (the format does not
// guarantee it), so read elements with memcpy. A plain value type; copies are
// independent, concurrent reads are safe.
struct TensorView {
  DType dtype = DType::kU8;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  // Product of `shape`; 1 for a scalar (shape []), 0 if a dimension is 0.
  int64_t numel() const;
};

}  // namespace ptune::safetensors

#endif  // PTUNE_SERVER_SAFETENSORS_TENSOR_VIEW_H_
