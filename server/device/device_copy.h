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

}  // namespace ptune::device

#endif  // PTUNE_SERVER_DEVICE_DEVICE_COPY_H_
