// Host -> device copies that never make the host wait. The executor builds
// small index arrays on the host for every batch (token ids, gather indices,
// positions, masks); on CUDA a plain `.to(device)` from pageable memory
// blocks the host until the copy is done, i.e. one synchronization per
// array. Here the values are staged in pinned (page-locked) memory from
// LibTorch's caching host allocator and copied with non_blocking=true on the
// current stream, so a batch's only host synchronization is the final
// device -> host read of its results. On the CPU the host tensor is returned
// as is (no copy at all).
//
// Thread-safety: plain functions. The caching host allocator records the
// copy on the stream, so the pinned block is not reused before the copy ran.
#ifndef PTUNE_SERVER_DEVICE_DEVICE_COPY_H_
#define PTUNE_SERVER_DEVICE_DEVICE_COPY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/ArrayRef.h>

namespace ptune::device {

// `values` as an int64 tensor of `shape` (empty = 1-D) on `device`.
at::Tensor ToDevice(const std::vector<int64_t>& values, c10::Device device,
                    c10::IntArrayRef shape = {});

// `values` (0 = false) as a bool tensor of `shape` (empty = 1-D) on `device`.
at::Tensor MaskToDevice(const std::vector<uint8_t>& values, c10::Device device,
                        c10::IntArrayRef shape = {});

// Device -> host: the values of a device tensor on their way into pinned
// host memory. StartHostCopy enqueues the copy on the current stream
// (non-blocking) and records a CUDA event after it; the host goes on (the
// executor prepares and launches the next batch) until Wait(), which blocks
// on that event alone - not on the stream or the device, so CUDA's sync debug
// mode does not count it - and returns the host tensor. For a CPU tensor,
// and in builds without the CUDA code paths, the values are on the host
// when StartHostCopy returns (a CUDA tensor there is read with a blocking
// copy).
//
// Thread-safety: one thread at a time per object; movable, not copyable.
class PendingHostCopy {
 public:
  PendingHostCopy() = default;
  PendingHostCopy(PendingHostCopy&&) = default;
  PendingHostCopy& operator=(PendingHostCopy&&) = default;

  // Whether a copy was started and not yet waited for.
  bool pending() const { return host_.defined(); }
  // Blocks until the copy is done; returns the contiguous host tensor (and
  // leaves this object empty). Throws c10::Error as LibTorch does.
  at::Tensor Wait();

 private:
  friend PendingHostCopy StartHostCopy(const at::Tensor& values);
  at::Tensor host_;
  std::shared_ptr<void> event_;  // the copy's CUDA event, in CUDA builds
};

// Starts copying `values` (any device) to the host. Throws c10::Error as
// LibTorch does.
PendingHostCopy StartHostCopy(const at::Tensor& values);

}  // namespace ptune::device

#endif  // PTUNE_SERVER_DEVICE_DEVICE_COPY_H_
