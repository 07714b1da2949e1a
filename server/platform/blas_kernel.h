// Which BLAS the process runs on, and the OpenBLAS kernel choice. Torch-free
// so that every binary (tests included) can call it first thing in main().
#ifndef PTUNE_SERVER_PLATFORM_BLAS_KERNEL_H_
#define PTUNE_SERVER_PLATFORM_BLAS_KERNEL_H_

#include <string>

namespace ptune::platform {

// Debian's OpenBLAS 0.3.21 does not recognise recent Intel processors and
// falls back to its generic "Prescott" kernels: a 384-wide GEMM then runs at
// ~25 GFLOP/s instead of ~260 (tests/bench/README.md). OpenBLAS reads
// OPENBLAS_CORETYPE only when it loads, so when the variable is unset and the
// loaded OpenBLAS reports a generic core, this sets it (SkylakeX with
// AVX-512, Haswell with AVX2) and re-executes the program once. Call first
// thing in main(); returns normally when nothing needs to change. An
// operator's own OPENBLAS_CORETYPE is always respected.
void SelectBlasKernel(char** argv);

// OpenBLAS's kernel name ("SkylakeX", "Prescott", ...), or "" when the
// process does not use OpenBLAS.
std::string BlasKernelName();

// Which BLAS library the process resolved (e.g. "openblas-pthread",
// "reference"), read from the loaded shared objects.
std::string ActiveBlasLibrary();

}  // namespace ptune::platform

#endif  // PTUNE_SERVER_PLATFORM_BLAS_KERNEL_H_
