#include "server/safetensors/tensor_view.h"

namespace ptune::safetensors {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

}  // namespace ptune::safetensors
