// Multi-head scaled dot-product attention of one BERT layer, reading Q, K and
// V straight out of the fused QKV projection. Stateless; thread-safe.
#ifndef PTUNE_SERVER_BACKBONE_ATTENTION_H_
#define PTUNE_SERVER_BACKBONE_ATTENTION_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace ptune::backbone {

// qkv [B*S, 3H]: per row the H query, H key and H value features (head-major
// inside each). mask_bias [B, 1, 1, P + S] additive; prefix_keys /
// prefix_values [B, P, H] or undefined (P = 0). Returns the attention context
// [B*S, H] (heads concatenated, as the output projection expects).
//
// On CPU float32 without an autograd graph to record (grad mode off, or no
// input requiring grad), on a processor with AVX2/FMA and a Fortran BLAS
// symbol in the process, it works one (row, head) at a time: one sgemm for
// the scores straight from strided views of qkv (no head re-layout copies),
// a fused mask + softmax pass while the scores are in cache, one sgemm that
// writes the context into its column block. Otherwise it runs the same maths
// with batched ATen ops (MultiHeadAttentionAten).
at::Tensor MultiHeadAttention(const at::Tensor& qkv, int64_t batch,
                              int64_t heads, const at::Tensor& mask_bias,
                              const at::Tensor& prefix_keys,
                              const at::Tensor& prefix_values);

// The ATen path alone (what MultiHeadAttention falls back to); exposed so
// that tests can compare the two.
at::Tensor MultiHeadAttentionAten(const at::Tensor& qkv, int64_t batch,
                                  int64_t heads, const at::Tensor& mask_bias,
                                  const at::Tensor& prefix_keys,
                                  const at::Tensor& prefix_values);

// Whether the direct-BLAS path is available in this process (BLAS symbol and
// AVX2/FMA).
bool HasDirectBlasAttention();

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_ATTENTION_H_
