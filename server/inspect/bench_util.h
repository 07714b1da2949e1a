// Timing helpers shared by the bench-* commands of ptune-inspect.
#ifndef PTUNE_SERVER_INSPECT_BENCH_UTIL_H_
#define PTUNE_SERVER_INSPECT_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>

namespace ptune::inspect {

// Runs `fn` until `seconds` have passed (at least 3 times) after one warm-up
// call; returns seconds per call.
template <typename Fn>
double TimePerCall(double seconds, Fn&& fn) {
  using Clock = std::chrono::steady_clock;
  fn();
  int calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds || calls < 3);
  return elapsed / calls;
}

// The encoder's own GEMM shapes (rows = batch x sequence): fused QKV,
// attention output, FFN in, FFN out, in fp32 on the CPU. Returns GFLOP/s over
// all four; the ceiling the encoder's achieved rate is compared with.
double MeasureGemmRate(int64_t rows, int64_t hidden, int64_t inner,
                       double seconds);

}  // namespace ptune::inspect

#endif  // PTUNE_SERVER_INSPECT_BENCH_UTIL_H_
