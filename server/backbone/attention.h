// Multi-head scaled dot-product attention of one BERT layer, reading Q, K and
// V straight out of the fused QKV projection. Stateless; thread-safe.
#ifndef PTUNE_SERVER_BACKBONE_ATTENTION_H_
#define PTUNE_SERVER_BACKBONE_ATTENTION_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::backbone {

// Which implementation computes attention (Backbone::Options::attention).
enum class AttentionKernel {
  // The measured fastest (tests/bench/README.md §15): on LibTorch 2.x
  // scaled_dot_product_attention everywhere; on 1.x the direct-BLAS path on
  // CPU float32 without autograd where it is available, else batched
  // matmuls.
  kAuto,
  // at::scaled_dot_product_attention (LibTorch 2.x only): fused kernels
  // (flash / memory-efficient on CUDA, flash on CPU) with the additive mask.
  kSdpa,
  // baddbmm + softmax + bmm on a head-major copy (every LibTorch).
  kMatmul,
};

// "auto", "sdpa" or "matmul"; "sdpa" is refused on LibTorch 1.x.
absl::StatusOr<AttentionKernel> ParseAttentionKernel(absl::string_view name);

// qkv [B*S, 3H]: per row the H query, H key and H value features (head-major
// inside each). mask_bias [B, 1, 1, P + S] additive; prefix_keys /
// prefix_values [B, P, H] or undefined (P = 0). Returns the attention context
// [B*S, H] (heads concatenated, as the output projection expects).
//
// kAuto on LibTorch 1.x, on CPU float32 without an autograd graph to record
// (grad mode off, or no input requiring grad), on a processor with AVX2/FMA
// and a Fortran BLAS symbol in the process: it works one (row, head) at a
// time: one sgemm for
// the scores straight from strided views of qkv (no head re-layout copies),
// a fused mask + softmax pass while the scores are in cache, one sgemm that
// writes the context into its column block. Otherwise the same maths runs
// as `kernel` says (kAuto: SDPA on LibTorch 2.x, batched matmuls on 1.x).
at::Tensor MultiHeadAttention(const at::Tensor& qkv, int64_t batch,
                              int64_t heads, const at::Tensor& mask_bias,
                              const at::Tensor& prefix_keys,
                              const at::Tensor& prefix_values,
                              AttentionKernel kernel = AttentionKernel::kAuto);

// The ATen path alone (what MultiHeadAttention falls back to); exposed so
// that tests can compare the two.
at::Tensor MultiHeadAttentionAten(const at::Tensor& qkv, int64_t batch,
                                  int64_t heads, const at::Tensor& mask_bias,
                                  const at::Tensor& prefix_keys,
                                  const at::Tensor& prefix_values);

// The same maths through at::scaled_dot_product_attention on strided views
// of qkv (LibTorch 2.x; on 1.x it runs MultiHeadAttentionAten).
at::Tensor MultiHeadAttentionSdpa(const at::Tensor& qkv, int64_t batch,
                                  int64_t heads, const at::Tensor& mask_bias,
                                  const at::Tensor& prefix_keys,
                                  const at::Tensor& prefix_values);

// Whether the direct-BLAS path is available in this process (BLAS symbol and
// AVX2/FMA).
bool HasDirectBlasAttention();

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_ATTENTION_H_
