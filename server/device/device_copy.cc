#include "server/device/device_copy.h"

#include <cstring>

#include <ATen/ATen.h>

namespace ptune::device {
namespace {

at::Tensor Upload(const void* data, int64_t count, at::ScalarType type,
                  c10::Device device, c10::IntArrayRef shape) {
  // Pinned only when it pays: a CPU-only LibTorch has no pinned allocator.
  const bool cuda = device.is_cuda();
  at::Tensor host = at::empty(
      {count}, at::TensorOptions().dtype(type).pinned_memory(cuda));
  if (count > 0) std::memcpy(host.data_ptr(), data, count * host.element_size());
  if (!shape.empty()) host = host.view(shape);
  if (device.is_cpu()) return host;
  return host.to(device, /*non_blocking=*/cuda);
}

}  // namespace

at::Tensor ToDevice(const std::vector<int64_t>& values, c10::Device device,
                    c10::IntArrayRef shape) {
  return Upload(values.data(), static_cast<int64_t>(values.size()), at::kLong,
                device, shape);
}

at::Tensor MaskToDevice(const std::vector<uint8_t>& values, c10::Device device,
                        c10::IntArrayRef shape) {
  static_assert(sizeof(bool) == sizeof(uint8_t));
  // Bytes other than 0/1 are not valid bools: normalize while copying.
  std::vector<uint8_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = values[i] != 0;
  return Upload(bits.data(), static_cast<int64_t>(bits.size()), at::kBool,
                device, shape);
}

}  // namespace ptune::device
