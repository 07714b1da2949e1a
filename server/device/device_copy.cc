#include "server/device/device_copy.h"

#include <cstring>

#include <ATen/ATen.h>

#ifdef PTUNE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#endif

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

PendingHostCopy StartHostCopy(const at::Tensor& values) {
  PendingHostCopy copy;
#ifdef PTUNE_WITH_CUDA
  if (values.is_cuda()) {
    copy.host_ = at::empty(values.sizes(), values.options()
                                               .device(at::kCPU)
                                               .pinned_memory(true));
    copy.host_.copy_(values, /*non_blocking=*/true);
    auto event = std::make_shared<at::cuda::CUDAEvent>();
    event->record(at::cuda::getCurrentCUDAStream(values.device().index()));
    copy.event_ = std::move(event);
    return copy;
  }
#endif
  copy.host_ = values.to(at::kCPU).contiguous();
  return copy;
}

at::Tensor PendingHostCopy::Wait() {
#ifdef PTUNE_WITH_CUDA
  if (event_ != nullptr) {
    static_cast<at::cuda::CUDAEvent*>(event_.get())->synchronize();
    event_.reset();
  }
#endif
  return std::move(host_);
}

}  // namespace ptune::device
