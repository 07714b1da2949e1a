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
