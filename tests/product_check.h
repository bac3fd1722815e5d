// What the product kernels' tests share (f32_kernels_test, bf16_kernels_test): small integers,
// exact in bfloat16 and float32 alike, so every product and sum is exact and a kernel must agree
// with plain sums to the bit, over shapes that reach every edge of the kernels' tiles.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace msaas::test {

// Calls product(a, lda, b, ldb, c, ldc, m, n, k) for a (m x k) and b (k x n) of small integers
// with padded strides, and checks that c holds a times b exactly and nothing past row m or
// column n. The
// shapes: rows past a tile of 6; last tiles of 1 to 4 vectors of 16 columns, full or partial (3,
// 16, 20, 40, 64, 64+6, 64+26, 64+36, 128+2); depths 1, 2, 9 (odd) and 64.
template <class Product>
void expect_exact_products(Product product, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> small(-8, 8);
  for (int64_t m : {1, 5, 6, 13})
    for (int64_t n : {3, 16, 20, 40, 64, 70, 90, 100, 130})
      for (int64_t k : {1, 2, 9, 64}) {
        int64_t lda = k + 3, ldb = n + 2, ldc = n + 5;
        // c has one more row than the product, which must stay -1.
        std::vector<float> a(m * lda), b(k * ldb), c((m + 1) * ldc, -1.0f);
        for (auto& x : a) x = float(small(random));
        for (auto& x : b) x = float(small(random));
        product(a, lda, b, ldb, c, ldc, m, n, k);
        for (int64_t i = 0; i <= m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            if (i == m || j >= n) {
              ASSERT_EQ(c[i * ldc + j], -1.0f) << "wrote past row " << m << " or column " << n;
              continue;
            }
            float sum = 0;
            for (int64_t p = 0; p < k; ++p) sum += a[i * lda + p] * b[p * ldb + j];
            ASSERT_EQ(c[i * ldc + j], sum) << m << "x" << n << "x" << k << " at " << i << "," << j;
          }
      }
}

}  // namespace msaas::test
