#include "server/metrics/buckets.h"

namespace ptune::metrics::buckets {

Boundaries RequestSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
}

Boundaries QueueWaitSeconds() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
          0.1,    0.2,   0.5,   1.0,   2.0,  5.0};
}

Boundaries ForwardSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
}

Boundaries BatchRows() {
  return {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256};
}

Boundaries BatchTokens() {
  return {8,   16,   32,   48,   64,   96,   128,  192,  256,   384,
          512, 1024, 2048, 4096, 8192, 16384, 32768};
}

Boundaries StreamSeconds() {
  return {1, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
}

Boundaries JobSeconds() { return StreamSeconds(); }

Boundaries PaddingRatio() {
  // 0 first: a bucket for batches with no padding at all (one length group).
  return {0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
}

}  // namespace ptune::metrics::buckets
