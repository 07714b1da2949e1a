#include "server/backbone/attention.h"

#include <limits>
#include <string>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/version.h>

#include "gtest/gtest.h"

namespace ptune::backbone {
namespace {

constexpr int64_t kHeads = 4, kHidden = 32;  // head size 8

// Additive mask [B, 1, 1, T] with the last `masked[b]` keys of row b masked.
at::Tensor MaskBias(int64_t batch, int64_t keys, std::vector<int64_t> masked) {
  at::Tensor bias = at::zeros({batch, 1, 1, keys});
  for (int64_t b = 0; b < batch; ++b) {
    if (masked[b] > 0) {
      bias[b].narrow(-1, keys - masked[b], masked[b])
          .fill_(std::numeric_limits<float>::lowest());
    }
  }
  return bias;
}

void ExpectClose(const at::Tensor& got, const at::Tensor& want,
                 double tolerance = 1e-5) {
  ASSERT_EQ(got.sizes(), want.sizes());
  const double diff = (got - want).abs().max().item<double>();
  EXPECT_LT(diff, tolerance) << "max |fast - aten| = " << diff;
}

TEST(AttentionTest, DirectPathMatchesAtenWithoutPrefix) {
  if (!HasDirectBlasAttention() || TORCH_VERSION_MAJOR >= 2) {
    GTEST_SKIP() << "no direct BLAS path here (LibTorch 2.x runs SDPA instead)";
  }
  at::manual_seed(1);
  const int64_t batch = 3, seq = 13;  // 13 keys: not a multiple of 8
  const at::Tensor qkv = at::randn({batch * seq, 3 * kHidden}) * 2;
  const at::Tensor mask = MaskBias(batch, seq, {0, 5, 12});
  ExpectClose(MultiHeadAttention(qkv, batch, kHeads, mask, {}, {}),
              MultiHeadAttentionAten(qkv, batch, kHeads, mask, {}, {}));
}

TEST(AttentionTest, DirectPathMatchesAtenWithPrefixAndMaskedPrefixKeys) {
  if (!HasDirectBlasAttention() || TORCH_VERSION_MAJOR >= 2) {
    GTEST_SKIP() << "no direct BLAS path here (LibTorch 2.x runs SDPA instead)";
  }
  at::manual_seed(2);
  const int64_t batch = 2, seq = 17, prefix = 6;
  const at::Tensor qkv = at::randn({batch * seq, 3 * kHidden});
  const at::Tensor keys = at::randn({batch, prefix, kHidden});
  const at::Tensor values = at::randn({batch, prefix, kHidden});
  // Row 1 masks its whole prefix and its last 3 tokens.
  at::Tensor mask = MaskBias(batch, prefix + seq, {0, 3});
  mask[1].narrow(-1, 0, prefix).fill_(std::numeric_limits<float>::lowest());
  ExpectClose(MultiHeadAttention(qkv, batch, kHeads, mask, keys, values),
              MultiHeadAttentionAten(qkv, batch, kHeads, mask, keys, values));
}

TEST(AttentionTest, LargeScoresStayFinite) {
  at::manual_seed(3);
  const int64_t batch = 2, seq = 9;
  const at::Tensor qkv = at::randn({batch * seq, 3 * kHidden}) * 30;
  const at::Tensor mask = MaskBias(batch, seq, {0, 4});
  const at::Tensor got = MultiHeadAttention(qkv, batch, kHeads, mask, {}, {});
  EXPECT_TRUE(got.isfinite().all().item<bool>());
  ExpectClose(got, MultiHeadAttentionAten(qkv, batch, kHeads, mask, {}, {}));
}

TEST(AttentionTest, AutogradUsesAtenPathAndGradientsFlow) {
  at::manual_seed(4);
  const int64_t batch = 2, seq = 5, prefix = 3;
  const at::Tensor qkv = at::randn({batch * seq, 3 * kHidden});
  const at::Tensor keys = at::randn({batch, prefix, kHidden}).set_requires_grad(true);
  const at::Tensor values = at::randn({batch, prefix, kHidden}).set_requires_grad(true);
  const at::Tensor mask = MaskBias(batch, prefix + seq, {0, 2});
  const at::Tensor out =
      MultiHeadAttention(qkv, batch, kHeads, mask, keys, values);
  ASSERT_TRUE(out.requires_grad());
  out.sum().backward();
  ASSERT_TRUE(keys.grad().defined());
  ASSERT_TRUE(values.grad().defined());
  EXPECT_GT(values.grad().abs().sum().item<double>(), 0.0);
  at::NoGradGuard no_grad;
  ExpectClose(out.detach(),
              MultiHeadAttention(qkv, batch, kHeads, mask, keys, values));
}

TEST(AttentionTest, EveryKernelMatchesAtenWithPrefixMaskAndGradients) {
  at::manual_seed(5);
  const int64_t batch = 3, seq = 11, prefix = 4;
  const at::Tensor qkv = at::randn({batch * seq, 3 * kHidden}) * 3;
  const at::Tensor keys = at::randn({batch, prefix, kHidden});
  const at::Tensor values = at::randn({batch, prefix, kHidden});
  at::Tensor mask = MaskBias(batch, prefix + seq, {0, 6, 2});
  mask[2].narrow(-1, 0, prefix).fill_(std::numeric_limits<float>::lowest());
  const at::Tensor want =
      MultiHeadAttentionAten(qkv, batch, kHeads, mask, keys, values);
  for (const char* name : {"auto", "matmul", "sdpa"}) {
    auto kernel = ParseAttentionKernel(name);
#if TORCH_VERSION_MAJOR < 2
    if (std::string(name) == "sdpa") {
      ASSERT_FALSE(kernel.ok());
      EXPECT_NE(kernel.status().message().find("needs LibTorch 2.x"), std::string::npos);
      continue;
    }
#endif
    ASSERT_TRUE(kernel.ok()) << kernel.status();
    SCOPED_TRACE(name);
    ExpectClose(MultiHeadAttention(qkv, batch, kHeads, mask, keys, values, *kernel), want);
    // The prompt's keys and values receive the same gradients on every path.
    const at::Tensor k = keys.clone().set_requires_grad(true);
    const at::Tensor v = values.clone().set_requires_grad(true);
    MultiHeadAttention(qkv, batch, kHeads, mask, k, v, *kernel).pow(2).sum().backward();
    const at::Tensor k_ref = keys.clone().set_requires_grad(true);
    const at::Tensor v_ref = values.clone().set_requires_grad(true);
    MultiHeadAttentionAten(qkv, batch, kHeads, mask, k_ref, v_ref).pow(2).sum().backward();
    // Gradients of a sum of squares reach ~20 here: float rounding of the
    // fused kernels' other summation order, relative ~1e-6.
    ExpectClose(k.grad(), k_ref.grad(), 1e-4);
    ExpectClose(v.grad(), v_ref.grad(), 1e-4);
  }
  EXPECT_FALSE(ParseAttentionKernel("flash").ok());
}

}  // namespace
}  // namespace ptune::backbone
