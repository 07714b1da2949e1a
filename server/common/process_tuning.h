// Process-wide settings that decide CPU inference speed on LibTorch + OpenBLAS
// (measured in ../shared/docs/PLATFORM-NOTES.md and tests/bench/README.md).
// Call once at start-up, before the first tensor operation.
#ifndef PTUNE_SERVER_COMMON_PROCESS_TUNING_H_
#define PTUNE_SERVER_COMMON_PROCESS_TUNING_H_

#include <string>

#include "server/platform/blas_kernel.h"

namespace ptune::common {

struct CpuTuning {
  // LibTorch intra-op threads. 0 = DefaultIntraOpThreads().
  int intra_op_threads = 0;
  // Keep freed activation buffers in the heap instead of returning them to
  // the OS and page-faulting them back on the next forward (2x on glibc).
  bool keep_heap_memory = true;
};

// The measured default of intra-op threads: 1 on LibTorch 1.x (OpenBLAS
// already spreads each GEMM over the cores, and two pools fighting halves
// the speed), every core on 2.x (its MKL/oneDNN GEMMs use LibTorch's pool).
int DefaultIntraOpThreads();

// Applies `tuning`; returns a one-line description for logs.
std::string ApplyCpuTuning(const CpuTuning& tuning);

}  // namespace ptune::common

#endif  // PTUNE_SERVER_COMMON_PROCESS_TUNING_H_
