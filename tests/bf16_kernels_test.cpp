// Fast mode's bfloat16 products (demucs/bf16_cpu.h): the rounding against libtorch's own
// float-to-bfloat16 conversion, and the product kernel against plain sums on inputs that
// bfloat16 holds exactly (small integers), where every product and sum is exact in float32,
// so the kernel must agree to the bit. Every shape's edge is covered: rows past a tile of 6,
// columns past a vector of 16 and a tile of 64, an odd depth padded with zeros.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "demucs/bf16_cpu.h"

namespace msaas::test {
namespace {

using demucs::bf16_products_available;

uint16_t libtorch_rounding(float x) {
  c10::BFloat16 rounded(x);  // c10 rounds to nearest, ties to even
  return rounded.x;
}

TEST(Bf16Kernels, RoundingMatchesLibtorchTiesToEvenAndKeepsNaN) {
  std::mt19937 random(3);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  std::vector<float> in(1000);
  for (auto& x : in) x = normal(random);
  float inf = std::numeric_limits<float>::infinity();
  // Halfway cases: 1 + 2^-8 rounds down to 1 (even), 1 + 3 * 2^-8 up to 1 + 2^-6 (even).
  in.insert(in.end(), {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -0.0f, inf, -inf, 1e-40f, 3.4e38f});
  std::vector<uint16_t> out(in.size() + 1, 0xabcd);
  demucs::round_to_bf16(in.data(), out.data(), int64_t(in.size()));
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(out[i], libtorch_rounding(in[i])) << "at " << in[i];
  EXPECT_EQ(out.back(), 0xabcd) << "wrote past n";
  EXPECT_EQ(out[1000], 0x3f80);
  EXPECT_EQ(out[1001], 0x3f82);
  float nan = std::nanf("");
  uint16_t rounded_nan;
  demucs::round_to_bf16(&nan, &rounded_nan, 1);
  EXPECT_EQ(rounded_nan & 0x7f80, 0x7f80);
  EXPECT_NE(rounded_nan & 0x007f, 0) << "a NaN must not round into infinity";
}

TEST(Bf16Kernels, PairsInterleaveConsecutiveRowsAndPadAnOddOne) {
  // b: 3 rows of 2 columns, row stride 5 (a slice of a wider matrix).
  std::vector<float> b = {1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 5, 6};
  std::vector<uint16_t> pairs(2 * 2 * 2, 0xffff);
  demucs::pack_bf16_pairs(b.data(), 3, 2, 5, pairs.data());
  std::vector<float> expected = {1, 3, 2, 4, 5, 0, 6, 0};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(pairs[i], libtorch_rounding(expected[i])) << "position " << i;
}

TEST(Bf16Kernels, ProductIsExactOnNumbersBfloat16Holds) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  std::mt19937 random(7);
  std::uniform_int_distribution<int> small(-8, 8);
  for (int64_t m : {1, 5, 6, 13})
    // Last tiles of 1 to 4 vectors, full or partial: 3, 16, 20, 40, 64, 64+6, 64+26, 64+36, 128+2.
    for (int64_t n : {3, 16, 20, 40, 64, 70, 90, 100, 130})
      for (int64_t k : {1, 2, 9, 64}) {
        int64_t lda = k + 3, ldb = n + 2, ldc = n + 5;
        std::vector<float> a(m * lda), b(k * ldb);
        for (auto& x : a) x = float(small(random));
        for (auto& x : b) x = float(small(random));
        int64_t depth = demucs::bf16_depth(k);  // an odd k gets a zero column
        std::vector<uint16_t> rows(m * depth, 0);
        for (int64_t i = 0; i < m; ++i)
          demucs::round_to_bf16(a.data() + i * lda, rows.data() + i * depth, k);
        std::vector<uint16_t> pairs(depth * n);
        demucs::pack_bf16_pairs(b.data(), k, n, ldb, pairs.data());
        std::vector<float> c(m * ldc, -1.0f);
        demucs::gemm_bf16(rows.data(), depth, pairs.data(), c.data(), ldc, m, n, depth);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            if (j >= n) {
              ASSERT_EQ(c[i * ldc + j], -1.0f) << "wrote past column " << n;
              continue;
            }
            float sum = 0;
            for (int64_t p = 0; p < k; ++p) sum += a[i * lda + p] * b[p * ldb + j];
            ASSERT_EQ(c[i * ldc + j], sum) << m << "x" << n << "x" << k << " at " << i << "," << j;
          }
      }
}

TEST(Bf16Kernels, ProductNeedsAnEvenDepth) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  std::vector<uint16_t> a(6), b(6);
  std::vector<float> c(4);
  EXPECT_THROW(demucs::gemm_bf16(a.data(), 3, b.data(), c.data(), 2, 2, 2, 3), std::logic_error);
}

}  // namespace
}  // namespace msaas::test
