// gtest main for every ptune test binary: selects the OpenBLAS kernel the
// way the ptune binaries do (server/common/process_tuning.h), so tests run at
// the speed and with the numerics of production.
#include "gtest/gtest.h"
#include "server/platform/blas_kernel.h"

int main(int argc, char** argv) {
  ptune::platform::SelectBlasKernel(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
