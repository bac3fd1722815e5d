// The float32 product kernel behind the exact mode's products (demucs/f32_cpu.h): exact to the bit
// on small integers over every edge of its tiles (product_check.h), and within float32's rounding
// of a double-precision product on random numbers; the exact mode's linear layers on it
// (demucs/linear_f32_cpu.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "demucs/f32_cpu.h"
#include "demucs/linear_f32_cpu.h"
#include "linear_check.h"
#include "product_check.h"

namespace msaas::test {
namespace {

using demucs::f32_products_available;

TEST(F32Kernels, ProductIsExactOnSmallIntegersAndWritesOnlyItsColumns) {
  if (!f32_products_available()) GTEST_SKIP() << "this CPU has no AVX-512";
  auto product = [](const std::vector<float>& a, int64_t lda, const std::vector<float>& b,
                    int64_t ldb, std::vector<float>& c, int64_t ldc, int64_t m, int64_t n,
                    int64_t k) {
    demucs::gemm_f32(a.data(), lda, b.data(), ldb, c.data(), ldc, m, n, k);
  };
  expect_exact_products(product, 11);
}

TEST(F32Kernels, ProductMatchesLibtorchOnRandomNumbers) {
  if (!f32_products_available()) GTEST_SKIP() << "this CPU has no AVX-512";
  // Attention's shape: a block of queries (depth 64) times a head's keys, transposed.
  at::manual_seed(5);
  for (int64_t m : {256, 7})
    for (int64_t n : {2688, 1344, 77}) {
      auto a = at::randn({m, 64}), b = at::randn({64, n});
      auto c = at::empty({m, n});
      demucs::gemm_f32(a.data_ptr<float>(), 64, b.data_ptr<float>(), n, c.data_ptr<float>(), n, m,
                       n, 64);
      auto expected = at::mm(a.to(at::kDouble), b.to(at::kDouble)).to(at::kFloat);
      // Sums of 64 terms of size about 1: float32's rounding leaves errors near 1e-6.
      EXPECT_LT((c - expected).abs().max().item<float>(), 1e-4) << m << "x" << n;
    }
}

TEST(F32Kernels, LinearMatchesADoublePrecisionLinear) {
  if (!f32_products_available()) {
    EXPECT_FALSE(demucs::linear_f32_cpu(at::randn({2, 4}), at::randn({3, 4}), at::randn({3})));
    GTEST_SKIP() << "this CPU has no AVX-512";
  }
  at::manual_seed(13);
  // Tokens [B, T, C] with an odd width and a row count past the 48-row work items; outputs past
  // several 64-column panels of the weight, the last one partial.
  auto [x, weight, bias] = random_linear_case();
  auto y = demucs::linear_f32_cpu(x, weight, bias);
  ASSERT_TRUE(y);
  ASSERT_EQ(y->sizes(), (std::vector<int64_t>{2, 101, 300}));
  EXPECT_EQ(y->scalar_type(), at::kFloat);
  auto expected = at::linear(x.to(at::kDouble), weight.to(at::kDouble), bias.to(at::kDouble));
  // Sums of 33 terms of size about 1: float32's rounding leaves errors near 1e-6.
  EXPECT_LT((y->to(at::kDouble) - expected).abs().max().item<double>(), 1e-5);
  // Column slices of a weight (the cross-attention's key and value rows) and a strided x.
  auto sliced = demucs::linear_f32_cpu(x, weight.slice(0, 30), bias.slice(0, 30));
  ASSERT_TRUE(sliced);
  EXPECT_TRUE(at::equal(*sliced, y->slice(2, 30))) << "a slice of the weight must give its columns";
  auto strided = demucs::linear_f32_cpu(x.transpose(0, 1), weight, bias);
  ASSERT_TRUE(strided);
  EXPECT_TRUE(at::equal(*strided, y->transpose(0, 1))) << "x's layout must not matter";
  auto weight_strided = demucs::linear_f32_cpu(x, weight.t().contiguous().t(), bias);
  ASSERT_TRUE(weight_strided);
  EXPECT_TRUE(at::equal(*weight_strided, *y)) << "nor the weight's";
  EXPECT_FALSE(demucs::linear_f32_cpu(at::randn({3, 0}), at::randn({4, 0}), at::randn({4})))
      << "no inputs: at::linear's (the bias)";
  auto linear = [](const at::Tensor& in, const at::Tensor& w, const at::Tensor& b) {
    return demucs::linear_f32_cpu(in, w, b);
  };
  expect_no_bias_and_refusals(linear, x, weight, bias, expected, 1e-5);
  // The feed-forward layers' activation on each block: ATen's, on the same numbers.
  auto gelu = demucs::linear_f32_cpu(x, weight, bias, demucs::AfterLinear::gelu);
  auto relu = demucs::linear_f32_cpu(x, weight, bias, demucs::AfterLinear::relu);
  ASSERT_TRUE(gelu && relu);
  EXPECT_TRUE(at::equal(*gelu, at::gelu(*y)));
  EXPECT_TRUE(at::equal(*relu, at::relu(*y)));
}

}  // namespace
}  // namespace msaas::test
