// Fused element-wise CPU kernels for the encoder's inference path (no
// autograd): bias + GELU, and bias + residual + LayerNorm, each one pass over
// the GEMM output instead of LibTorch's two to four. AVX2/FMA with a runtime
// CPU check; callers use LibTorch ops where FusedKernelsApply() is false.
// Stateless; thread-safe.
#ifndef PTUNE_SERVER_BACKBONE_FUSED_OPS_H_
#define PTUNE_SERVER_BACKBONE_FUSED_OPS_H_

#include <ATen/core/Tensor.h>

namespace ptune::backbone {

// Whether the kernels below can run on `x`: a contiguous CPU float32 matrix
// on a processor with AVX2 and FMA.
bool FusedKernelsApply(const at::Tensor& x);

// x [N, I] := gelu(x + bias), the exact (erf) GELU; in place. bias [I].
void BiasGeluInPlace(at::Tensor& x, const at::Tensor& bias);

// x [N, H] := layer_norm(x + bias + residual) * weight + norm_bias, in
// place; bias, weight, norm_bias [H]; residual [N, H] contiguous. Returns x.
at::Tensor& BiasResidualLayerNormInPlace(at::Tensor& x, const at::Tensor& bias,
                                         const at::Tensor& residual,
                                         const at::Tensor& weight,
                                         const at::Tensor& norm_bias,
                                         double eps);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_FUSED_OPS_H_
