#include "server/backbone/attention.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/record_function.h>
#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "server/backbone/avx2_math.h"

namespace ptune::backbone {
namespace {

// The Fortran BLAS entry point (column-major), as every BLAS exports it. The
// two trailing lengths are the hidden CHARACTER lengths of gfortran's ABI.
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m,
                         const int* n, const int* k, const float* alpha,
                         const float* a, const int* lda, const float* b,
                         const int* ldb, const float* beta, float* c,
                         const int* ldc, size_t transa_len, size_t transb_len);

SgemmFn Sgemm() {
  // LibTorch loads its BLAS with the process; nullptr where it keeps the
  // symbols private (then the ATen path runs).
  static const SgemmFn fn =
      reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}

// Row-major C[m x n] (row stride ldc) = alpha * A[m x k] * op(B) + beta * C,
// with B given row-major as [n x k] (b_transposed) or [k x n].
void RowMajorGemm(SgemmFn sgemm, int m, int n, int k, float alpha,
                  const float* a, int lda, const float* b, int ldb,
                  bool b_transposed, float beta, float* c, int ldc) {
  // Row-major C = A op(B) is column-major C^T = op(B)^T A^T.
  const char ta = b_transposed ? 'T' : 'N';
  const char tb = 'N';
  sgemm(&ta, &tb, &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc, 1, 1);
}

bool NeedsAutograd(const at::Tensor& t) {
  return t.defined() && t.requires_grad();
}

#if defined(__x86_64__)
// rows x n scores (row stride ld) := softmax(scores + mask) along each row,
// in place; mask has n entries shared by every row.
PTUNE_AVX2 void MaskedSoftmaxRowsAvx2(float* scores, int64_t rows, int64_t n,
                                      int64_t ld, const float* mask) {
  const int64_t n8 = n / 8 * 8;
  for (int64_t r = 0; r < rows; ++r) {
    float* x = scores + r * ld;
    __m256 vmax = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(mask + j));
      _mm256_storeu_ps(x + j, v);
      vmax = _mm256_max_ps(vmax, v);
    }
    float max = HorizontalMax(vmax);
    for (int64_t j = n8; j < n; ++j) {
      x[j] += mask[j];
      max = std::max(max, x[j]);
    }
    const __m256 vm = _mm256_set1_ps(max);
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 e = Exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
      _mm256_storeu_ps(x + j, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    float sum = HorizontalSum(vsum);
    for (int64_t j = n8; j < n; ++j) {
      x[j] = std::exp(x[j] - max);
      sum += x[j];
    }
    const float inv = 1.0f / sum;
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int64_t j = 0; j < n8; j += 8) {
      _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), vinv));
    }
    for (int64_t j = n8; j < n; ++j) x[j] *= inv;
  }
}

#else
void MaskedSoftmaxRowsAvx2(float*, int64_t, int64_t, int64_t, const float*) {}
#endif

}  // namespace

bool HasDirectBlasAttention() { return Sgemm() != nullptr && HasAvx2(); }

absl::StatusOr<AttentionKernel> ParseAttentionKernel(absl::string_view name) {
  if (name == "auto") return AttentionKernel::kAuto;
  if (name == "matmul") return AttentionKernel::kMatmul;
  if (name == "sdpa") {
#if TORCH_VERSION_MAJOR >= 2
    return AttentionKernel::kSdpa;
#else
    return absl::InvalidArgumentError(
        "attention \"sdpa\" needs LibTorch 2.x (this build has " TORCH_VERSION
        "); use auto or matmul");
#endif
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid attention \"", name, "\" (auto, sdpa, matmul)"));
}

at::Tensor MultiHeadAttentionSdpa(const at::Tensor& qkv, int64_t batch,
                                  int64_t heads, const at::Tensor& mask_bias,
                                  const at::Tensor& prefix_keys,
                                  const at::Tensor& prefix_values) {
#if TORCH_VERSION_MAJOR >= 2
  const int64_t s = qkv.size(0) / batch, h = qkv.size(1) / 3, d = h / heads;
  // [B, S, 3, heads, d] -> Q, K, V as [B, heads, S, d] views (no copy).
  const at::Tensor split = qkv.view({batch, s, 3, heads, d});
  const at::Tensor q = split.select(2, 0).transpose(1, 2);
  at::Tensor k = split.select(2, 1).transpose(1, 2);
  at::Tensor v = split.select(2, 2).transpose(1, 2);
  if (prefix_keys.defined()) {
    const int64_t p = prefix_keys.size(1);
    k = at::cat({prefix_keys.to(k.scalar_type()).view({batch, p, heads, d}).transpose(1, 2), k}, 2);
    v = at::cat({prefix_values.to(v.scalar_type()).view({batch, p, heads, d}).transpose(1, 2), v}, 2);
  }
  // The additive mask [B, 1, 1, P + S] broadcasts over heads and queries.
  const at::Tensor context = at::scaled_dot_product_attention(
      q, k, v, mask_bias.to(q.scalar_type()));
  return context.transpose(1, 2).reshape({batch * s, h});
#else
  return MultiHeadAttentionAten(qkv, batch, heads, mask_bias, prefix_keys,
                                prefix_values);
#endif
}

at::Tensor MultiHeadAttentionAten(const at::Tensor& qkv, int64_t batch,
                                  int64_t heads, const at::Tensor& mask_bias,
                                  const at::Tensor& prefix_keys,
                                  const at::Tensor& prefix_values) {
  const int64_t s = qkv.size(0) / batch, h = qkv.size(1) / 3, d = h / heads;
  // One copy into the head-major layout [3, B, heads, S, d]: every (row,
  // head) slice is then a contiguous matrix for the batched GEMMs.
  const at::Tensor split = qkv.view({batch, s, 3, heads, d})
                               .permute({2, 0, 3, 1, 4})
                               .contiguous();
  const at::Tensor q = split.select(0, 0).view({batch * heads, s, d});
  at::Tensor k = split.select(0, 1);  // [B, heads, S, d]
  at::Tensor v = split.select(0, 2);
  if (prefix_keys.defined()) {
    const int64_t p = prefix_keys.size(1);
    k = at::cat({prefix_keys.to(k.scalar_type())
                     .view({batch, p, heads, d})
                     .transpose(1, 2),
                 k},
                2);
    v = at::cat({prefix_values.to(v.scalar_type())
                     .view({batch, p, heads, d})
                     .transpose(1, 2),
                 v},
                2);
  }
  const int64_t t = k.size(2);  // P + S
  k = k.reshape({batch * heads, t, d});
  v = v.reshape({batch * heads, t, d});
  // scores = mask + (Q K^T) / sqrt(d), the mask row of each (row, head)
  // broadcast over its S query rows.
  const at::Tensor mask_rows =
      mask_bias.expand({batch, heads, 1, t}).reshape({batch * heads, 1, t});
  at::Tensor probs =
      at::baddbmm(mask_rows, q, k.transpose(1, 2), /*beta=*/1.0,
                  /*alpha=*/1.0 / std::sqrt(static_cast<double>(d)));
#if TORCH_VERSION_MAJOR < 2
  // LibTorch 1.13's softmax kernel reads a row before writing it: in place
  // is exact when no autograd graph is recorded.
  if (!at::GradMode::is_enabled()) {
    at::_softmax_out(probs, probs, -1, /*half_to_float=*/false);
  } else {
    probs = at::softmax(probs, -1);
  }
#else
  probs = at::softmax(probs, -1);
#endif
  return at::bmm(probs, v)
      .view({batch, heads, s, d})
      .transpose(1, 2)
      .reshape({batch * s, h});
}

at::Tensor MultiHeadAttention(const at::Tensor& qkv, int64_t batch,
                              int64_t heads, const at::Tensor& mask_bias,
                              const at::Tensor& prefix_keys,
                              const at::Tensor& prefix_values,
                              AttentionKernel kernel) {
  if (kernel == AttentionKernel::kSdpa) {
    return MultiHeadAttentionSdpa(qkv, batch, heads, mask_bias, prefix_keys,
                                  prefix_values);
  }
  if (kernel == AttentionKernel::kMatmul) {
    return MultiHeadAttentionAten(qkv, batch, heads, mask_bias, prefix_keys,
                                  prefix_values);
  }
#if TORCH_VERSION_MAJOR >= 2
  // LibTorch 2.x: the fused kernel beats both others, on CPU float32 too
  // (tests/bench/README.md §15).
  return MultiHeadAttentionSdpa(qkv, batch, heads, mask_bias, prefix_keys,
                                prefix_values);
#endif
  const SgemmFn sgemm = Sgemm();
  const bool has_prefix = prefix_keys.defined();
  const bool grad = at::GradMode::is_enabled() &&
                    (NeedsAutograd(qkv) || NeedsAutograd(mask_bias) ||
                     NeedsAutograd(prefix_keys) || NeedsAutograd(prefix_values));
  const auto is_cpu_float = [](const at::Tensor& x) {
    return !x.defined() || (x.device().is_cpu() && x.scalar_type() == at::kFloat);
  };
  if (sgemm == nullptr || !HasAvx2() || grad || !is_cpu_float(qkv) ||
      !is_cpu_float(mask_bias) || !is_cpu_float(prefix_keys) ||
      !is_cpu_float(prefix_values)) {
    return MultiHeadAttentionSdpa(qkv, batch, heads, mask_bias, prefix_keys,
                                  prefix_values);
  }
  RECORD_FUNCTION("ptune::attention", std::vector<c10::IValue>());
  const int64_t s = qkv.size(0) / batch, h = qkv.size(1) / 3, d = h / heads;
  const int64_t p = has_prefix ? prefix_keys.size(1) : 0;
  const int64_t t = p + s;
  const at::Tensor src = qkv.contiguous();
  const at::Tensor mask = mask_bias.reshape({batch, t}).contiguous();
  const at::Tensor pk = has_prefix ? prefix_keys.contiguous() : at::Tensor();
  const at::Tensor pv = has_prefix ? prefix_values.contiguous() : at::Tensor();
  at::Tensor context = at::empty({batch * s, h}, src.options());

  const float* base = src.data_ptr<float>();
  const float* mask_data = mask.data_ptr<float>();
  const float* pk_data = has_prefix ? pk.data_ptr<float>() : nullptr;
  const float* pv_data = has_prefix ? pv.data_ptr<float>() : nullptr;
  float* out = context.data_ptr<float>();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int ld_qkv = static_cast<int>(3 * h), ld_h = static_cast<int>(h);
  const int ld_s = static_cast<int>(t);
  const int si = static_cast<int>(s), pi = static_cast<int>(p);
  const int di = static_cast<int>(d);
  // One (row, head) at a time, so that its [S x (P+S)] scores stay in cache
  // between the two GEMMs and the softmax; Q, K and V are read in place as
  // strided [S x d] slices of qkv (no head re-layout copies) and each
  // context slice lands in its [B*S, H] column block.
  // Rows are independent: with several intra-op threads each takes a share
  // (for this model's shapes every sgemm is small enough that OpenBLAS runs
  // it on the caller's thread).
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(s * t);
    for (int64_t b = begin; b < end; ++b) {
      const float* rows_b = base + b * s * 3 * h;
      for (int64_t hd = 0; hd < heads; ++hd) {
        const float* q = rows_b + hd * d;
        RowMajorGemm(sgemm, si, si, di, scale, q, ld_qkv, rows_b + h + hd * d,
                     ld_qkv, /*b_transposed=*/true, 0.0f, scores.data() + p, ld_s);
        if (p > 0) {
          RowMajorGemm(sgemm, si, pi, di, scale, q, ld_qkv,
                       pk_data + b * p * h + hd * d, ld_h,
                       /*b_transposed=*/true, 0.0f, scores.data(), ld_s);
        }
        MaskedSoftmaxRowsAvx2(scores.data(), s, t, t, mask_data + b * t);
        float* o = out + b * s * h + hd * d;  // [S x d], row stride H
        RowMajorGemm(sgemm, si, di, si, 1.0f, scores.data() + p, ld_s,
                     rows_b + 2 * h + hd * d, ld_qkv, /*b_transposed=*/false,
                     0.0f, o, ld_h);
        if (p > 0) {
          RowMajorGemm(sgemm, si, di, pi, 1.0f, scores.data(), ld_s,
                       pv_data + b * p * h + hd * d, ld_h,
                       /*b_transposed=*/false, 1.0f, o, ld_h);
        }
      }
    }
  });
  return context;
}

}  // namespace ptune::backbone
