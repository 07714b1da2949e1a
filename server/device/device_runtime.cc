#include "server/device/device_runtime.h"

#include "absl/strings/str_cat.h"
#include "server/common/torch_call.h"

#ifdef PTUNE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace ptune::device {

absl::Status CheckCudaDtype(at::ScalarType dtype, ComputeCapability capability) {
  const auto below = [&](int major, int minor) {
    return capability.major < major || (capability.major == major && capability.minor < minor);
  };
  const std::string gpu = absl::StrCat("this GPU has compute capability ", capability.major,
                                       ".", capability.minor);
  if (dtype == at::kBFloat16 && below(8, 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype bfloat16 needs a GPU of compute capability 8.0 (Ampere) or newer; ", gpu,
        ": use --dtype float16 (serving only) or float32"));
  }
  if (dtype == at::kHalf && below(5, 3)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype float16 needs a GPU of compute capability 5.3 or newer; ", gpu,
        ": use --dtype float32"));
  }
  return absl::OkStatus();
}

#ifdef PTUNE_WITH_CUDA

absl::StatusOr<ComputeCapability> QueryComputeCapability(c10::Device device) {
  if (!device.is_cuda()) {
    return absl::UnimplementedError(absl::StrCat("no compute capability for ", device.str()));
  }
  return common::TorchCall("querying the compute capability", [&] {
    const c10::DeviceIndex index =
        device.has_index() ? device.index() : c10::cuda::current_device();
    const auto* properties = at::cuda::getDeviceProperties(index);
    return ComputeCapability{properties->major, properties->minor};
  });
}

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

absl::StatusOr<ComputeCapability> QueryComputeCapability(c10::Device device) {
  return absl::UnimplementedError(absl::StrCat(
      "no compute capability for ", device.str(),
      device.is_cuda() ? " (built without PTUNE_WITH_CUDA)" : ""));
}

absl::StatusOr<DeviceMemory> QueryDeviceMemory(c10::Device device) {
  return absl::UnimplementedError(absl::StrCat(
      "no device memory figures for ", device.str(),
      device.is_cuda() ? " (built without PTUNE_WITH_CUDA)" : ""));
}

ForbidDeviceSyncs::ForbidDeviceSyncs() = default;
ForbidDeviceSyncs::~ForbidDeviceSyncs() = default;

#endif

}  // namespace ptune::device
