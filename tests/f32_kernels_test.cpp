// The float32 product kernel behind attention's scores and DConv's 1x1 (demucs/f32_cpu.h): exact to
// the bit on small integers over every edge of its tiles (product_check.h), and within float32's
// rounding of a double-precision product on random numbers.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "demucs/f32_cpu.h"
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

}  // namespace
}  // namespace msaas::test
