#include "server/inspect/bench_util.h"

#include <ATen/ATen.h>

namespace ptune::inspect {

double MeasureGemmRate(int64_t rows, int64_t hidden, int64_t inner,
                       double seconds) {
  const at::Tensor x = at::randn({rows, hidden});
  const at::Tensor w_qkv = at::randn({3 * hidden, hidden});
  const at::Tensor w_out = at::randn({hidden, hidden});
  const at::Tensor w_in = at::randn({inner, hidden});
  const at::Tensor w_ffn = at::randn({hidden, inner});
  const at::Tensor h = at::randn({rows, inner});
  const double flops = 2.0 * rows * hidden * (3 * hidden + hidden + 2 * inner);
  const double t = TimePerCall(seconds, [&] {
    at::mm(x, w_qkv.t());
    at::mm(x, w_out.t());
    at::mm(x, w_in.t());
    at::mm(h, w_ffn.t());
  });
  return flops / t / 1e9;
}

}  // namespace ptune::inspect
