// What only a CUDA build of ptune can ask of, or set on, the device. Built
// with the CUDA code paths when CMake's PTUNE_WITH_CUDA is ON (which needs a
// CUDA-enabled LibTorch and the CUDA toolkit); the default CPU build
// compiles the fallbacks below and needs none of it.
//
// Stream policy (ARCHITECTURE.md §3): all device work of a server, from the
// executor and from loader threads, goes on the device's current stream,
// which ptune never changes; work is therefore ordered without events, and
// the executor's only host synchronization per batch is reading results.
//
// Thread-safety: every function is thread-safe.
#ifndef PTUNE_SERVER_DEVICE_DEVICE_RUNTIME_H_
#define PTUNE_SERVER_DEVICE_DEVICE_RUNTIME_H_

#include <cstdint>
#include <memory>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ptune::device {

// True in binaries built with PTUNE_WITH_CUDA.
bool BuiltWithCuda();

struct DeviceMemory {
  int64_t allocated = 0;  // bytes in live tensors (caching allocator)
  int64_t reserved = 0;   // bytes the caching allocator holds from the driver
  int64_t total = 0;      // the device's memory
};

// CUDA devices in a CUDA build; UNIMPLEMENTED otherwise (the CPU's figure is
// the process's resident memory, which the caller reads from /proc).
absl::StatusOr<DeviceMemory> QueryDeviceMemory(c10::Device device);

// A CUDA device's compute capability, e.g. {8, 0} for an A100, {9, 0} for
// an H100/H200. UNIMPLEMENTED for a CPU device or without the CUDA code
// paths.
struct ComputeCapability {
  int major = 0;
  int minor = 0;
};
absl::StatusOr<ComputeCapability> QueryComputeCapability(c10::Device device);

// INVALID_ARGUMENT, saying what to use instead, when a CUDA device of
// `capability` has no native kernels for `dtype`: bfloat16 needs 8.0
// (Ampere) or newer (older GPUs emulate it, slower than float32), float16
// needs 5.3. OK for float32 and for every dtype on capable devices. A pure
// function: CPU builds test it.
absl::Status CheckCudaDtype(at::ScalarType dtype, ComputeCapability capability);

// While alive, any operation that makes the host wait for a CUDA device (a
// blocking copy, .item(), a stream or device synchronize) throws a
// c10::Error instead (CUDA sync debug mode, "error" level); restored on
// destruction. For tests that prove a path never synchronizes. Does nothing
// on the CPU or without the CUDA code paths.
class ForbidDeviceSyncs {
 public:
  ForbidDeviceSyncs();
  ~ForbidDeviceSyncs();
  ForbidDeviceSyncs(const ForbidDeviceSyncs&) = delete;
  ForbidDeviceSyncs& operator=(const ForbidDeviceSyncs&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace ptune::device

#endif  // PTUNE_SERVER_DEVICE_DEVICE_RUNTIME_H_
