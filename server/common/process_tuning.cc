#include "server/common/process_tuning.h"

#include <malloc.h>

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "server/platform/blas_kernel.h"

namespace ptune::common {

int DefaultIntraOpThreads() {
#if TORCH_VERSION_MAJOR >= 2
  // MKL and oneDNN run on LibTorch's own OpenMP pool: 1 thread is 0.6x of
  // 2 on the 2-core dev machine (tests/bench/README.md §15).
  return std::max(1u, std::thread::hardware_concurrency());
#else
  // OpenBLAS spreads each GEMM over the cores by itself; a second pool
  // fighting it halves the speed (PLATFORM-NOTES.md).
  return 1;
#endif
}

std::string ApplyCpuTuning(const CpuTuning& tuning) {
  if (tuning.keep_heap_memory) {
    // 32 MiB is glibc's ceiling for the mmap threshold on 64-bit: every
    // activation buffer of a batch comes from the heap and stays there.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  const int threads =
      tuning.intra_op_threads > 0 ? tuning.intra_op_threads : DefaultIntraOpThreads();
  at::set_num_threads(threads);
  return absl::StrCat("intra_op_threads=", threads,
                      " keep_heap_memory=", tuning.keep_heap_memory,
                      " blas=", platform::ActiveBlasLibrary(), " kernel=",
                      platform::BlasKernelName());
}

}  // namespace ptune::common
