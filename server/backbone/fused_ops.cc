#include "server/backbone/fused_ops.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include "server/backbone/avx2_math.h"

namespace ptune::backbone {
namespace {

#if defined(__x86_64__)
// 0.5 x (1 + erf(x / sqrt(2))) for 8 floats; erf by Abramowitz & Stegun
// 7.1.26 (|error| < 1.5e-7), the formula LibTorch's own AVX2 erf uses.
inline PTUNE_AVX2 __m256 Gelu8(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 az = _mm256_andnot_ps(sign_mask, z);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(
      one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, one));
  __m256 poly = _mm256_set1_ps(1.061405429f);
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-1.453152027f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
  poly = _mm256_mul_ps(poly, t);
  const __m256 e = Exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az)));
  const __m256 erf_abs = _mm256_fnmadd_ps(poly, e, one);  // erf(|z|)
  const __m256 erf = _mm256_or_ps(erf_abs, _mm256_and_ps(sign_mask, z));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                       _mm256_add_ps(one, erf));
}

PTUNE_AVX2 void BiasGeluRows(float* x, int64_t rows, int64_t n,
                             const float* bias) {
  const int64_t n8 = n / 8 * 8;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 v =
          _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(bias + j));
      _mm256_storeu_ps(row + j, Gelu8(v));
    }
    for (int64_t j = n8; j < n; ++j) {
      const float v = row[j] + bias[j];
      row[j] = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
    }
  }
}

PTUNE_AVX2 void BiasResidualLayerNormRows(float* x, int64_t rows, int64_t n,
                                          const float* bias,
                                          const float* residual,
                                          const float* weight,
                                          const float* norm_bias, float eps) {
  const int64_t n8 = n / 8 * 8;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    const float* res = residual + r * n;
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 v = _mm256_add_ps(
          _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(bias + j)),
          _mm256_loadu_ps(res + j));
      _mm256_storeu_ps(row + j, v);
      vsum = _mm256_add_ps(vsum, v);
    }
    float sum = HorizontalSum(vsum);
    for (int64_t j = n8; j < n; ++j) {
      row[j] += bias[j] + res[j];
      sum += row[j];
    }
    const float mean = sum / static_cast<float>(n);
    const __m256 vmean = _mm256_set1_ps(mean);
    __m256 vsq = _mm256_setzero_ps();
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 c = _mm256_sub_ps(_mm256_loadu_ps(row + j), vmean);
      vsq = _mm256_fmadd_ps(c, c, vsq);
    }
    float sq = HorizontalSum(vsq);
    for (int64_t j = n8; j < n; ++j) sq += (row[j] - mean) * (row[j] - mean);
    const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(n) + eps);
    const __m256 vrstd = _mm256_set1_ps(rstd);
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 c = _mm256_mul_ps(
          _mm256_sub_ps(_mm256_loadu_ps(row + j), vmean), vrstd);
      _mm256_storeu_ps(row + j, _mm256_fmadd_ps(c, _mm256_loadu_ps(weight + j),
                                                _mm256_loadu_ps(norm_bias + j)));
    }
    for (int64_t j = n8; j < n; ++j) {
      row[j] = (row[j] - mean) * rstd * weight[j] + norm_bias[j];
    }
  }
}
#else
void BiasGeluRows(float*, int64_t, int64_t, const float*) {}
void BiasResidualLayerNormRows(float*, int64_t, int64_t, const float*,
                               const float*, const float*, const float*,
                               float) {}
#endif

// Rows per parallel_for task: a few hundred KiB of activations.
constexpr int64_t kGrainRows = 64;

}  // namespace

bool FusedKernelsApply(const at::Tensor& x) {
  return HasAvx2() && x.defined() && x.device().is_cpu() &&
         x.scalar_type() == at::kFloat && x.dim() == 2 && x.is_contiguous();
}

void BiasGeluInPlace(at::Tensor& x, const at::Tensor& bias) {
  RECORD_FUNCTION("ptune::bias_gelu", std::vector<c10::IValue>());
  const at::Tensor b = bias.contiguous();
  float* data = x.data_ptr<float>();
  const float* bias_data = b.data_ptr<float>();
  const int64_t n = x.size(1);
  at::parallel_for(0, x.size(0), kGrainRows, [&](int64_t begin, int64_t end) {
    BiasGeluRows(data + begin * n, end - begin, n, bias_data);
  });
}

at::Tensor& BiasResidualLayerNormInPlace(at::Tensor& x, const at::Tensor& bias,
                                         const at::Tensor& residual,
                                         const at::Tensor& weight,
                                         const at::Tensor& norm_bias,
                                         double eps) {
  RECORD_FUNCTION("ptune::bias_residual_layer_norm", std::vector<c10::IValue>());
  const at::Tensor b = bias.contiguous(), res = residual.contiguous();
  const at::Tensor w = weight.contiguous(), nb = norm_bias.contiguous();
  float* data = x.data_ptr<float>();
  const int64_t n = x.size(1);
  at::parallel_for(0, x.size(0), kGrainRows, [&](int64_t begin, int64_t end) {
    BiasResidualLayerNormRows(data + begin * n, end - begin, n,
                              b.data_ptr<float>(), res.data_ptr<float>() + begin * n,
                              w.data_ptr<float>(), nb.data_ptr<float>(),
                              static_cast<float>(eps));
  });
  return x;
}

}  // namespace ptune::backbone
