#include "server/device/device_runtime.h"

#include "absl/strings/str_cat.h"
#include "server/common/torch_call.h"

#ifdef PTUNE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace ptune::device {

#ifdef PTUNE_WITH_CUDA

bool BuiltWithCuda() { return true; }

absl::StatusOr<DeviceMemory> QueryDeviceMemory(c10::Device device) {
  if (!device.is_cuda()) {
    return absl::UnimplementedError(
        absl::StrCat("no device memory figures for ", device.str()));
  }
  return common::TorchCall("querying device memory", [&] {
    const c10::DeviceIndex index =
        device.has_index() ? device.index() : c10::cuda::current_device();
    // Index 0 of each StatArray is the aggregate over pool types.
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    DeviceMemory memory;
    memory.allocated = stats.allocated_bytes[0].current;
    memory.reserved = stats.reserved_bytes[0].current;
    memory.total = static_cast<int64_t>(
        at::cuda::getDeviceProperties(index)->totalGlobalMem);
    return memory;
  });
}

ForbidDeviceSyncs::ForbidDeviceSyncs() {
  auto& state = c10::cuda::warning_state();
  previous_ = static_cast<int>(state.get_sync_debug_mode());
  state.set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
}

ForbidDeviceSyncs::~ForbidDeviceSyncs() {
  c10::cuda::warning_state().set_sync_debug_mode(
      static_cast<c10::cuda::SyncDebugMode>(previous_));
}

#else  // CPU-only build

bool BuiltWithCuda() { return false; }

absl::StatusOr<DeviceMemory> QueryDeviceMemory(c10::Device device) {
  return absl::UnimplementedError(absl::StrCat(
      "no device memory figures for ", device.str(),
      device.is_cuda() ? " (built without PTUNE_WITH_CUDA)" : ""));
}

ForbidDeviceSyncs::ForbidDeviceSyncs() = default;
ForbidDeviceSyncs::~ForbidDeviceSyncs() = default;

#endif

}  // namespace ptune::device
