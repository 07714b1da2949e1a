#include "server/backbone/fused_ops.h"

#include <ATen/ATen.h>

#include "gtest/gtest.h"

namespace ptune::backbone {
namespace {

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(FusedOpsTest, BiasGeluMatchesLibTorch) {
  at::manual_seed(5);
  at::Tensor x = at::randn({37, 1541}) * 4;  // 1541: a tail after the vectors
  const at::Tensor bias = at::randn({1541});
  if (!FusedKernelsApply(x)) GTEST_SKIP() << "no AVX2/FMA here";
  const at::Tensor want = at::gelu(x + bias);
  BiasGeluInPlace(x, bias);
  EXPECT_LT(MaxDiff(x, want), 1e-5);
}

TEST(FusedOpsTest, BiasResidualLayerNormMatchesLibTorch) {
  at::manual_seed(6);
  at::Tensor x = at::randn({70, 389}) * 3;
  const at::Tensor bias = at::randn({389}), residual = at::randn({70, 389});
  const at::Tensor weight = at::randn({389}), norm_bias = at::randn({389});
  if (!FusedKernelsApply(x)) GTEST_SKIP() << "no AVX2/FMA here";
  const at::Tensor want =
      at::layer_norm(x + bias + residual, {389}, weight, norm_bias, 1e-12);
  BiasResidualLayerNormInPlace(x, bias, residual, weight, norm_bias, 1e-12);
  EXPECT_LT(MaxDiff(x, want), 1e-5);
}

TEST(FusedOpsTest, OnlyContiguousCpuFloatMatricesApply) {
  EXPECT_FALSE(FusedKernelsApply(at::Tensor()));
  EXPECT_FALSE(FusedKernelsApply(at::zeros({4, 8}, at::kDouble)));
  EXPECT_FALSE(FusedKernelsApply(at::zeros({8, 4}).t()));
  EXPECT_FALSE(FusedKernelsApply(at::zeros({2, 4, 8})));
}

}  // namespace
}  // namespace ptune::backbone
