// Fast mode's int8 products (demucs/int8_cpu.h, linear_int8_cpu.h, and feed_forward_bf16_cpu.h
// with int8 factors): the quantizing of rows against its definition (ties to even, the padding,
// zero rows, infinities and NaN), the weight's packing by ranges against one packing of the
// whole, the product kernel against plain sums where the scales are 1 (every integer exact) over
// every edge of the tiles, the linear layer against double-precision sums of its dequantized
// factors, and the feed-forward block against its layers run one by one.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "demucs/exp_cpu.h"
#include "demucs/feed_forward_bf16_cpu.h"
#include "demucs/int8_cpu.h"
#include "demucs/linear_int8_cpu.h"
#include "linear_check.h"

namespace msaas::test {
namespace {

using demucs::int8_products_available;

// Fast mode's choice: bfloat16 unless MSAAS_FAST_INT8=1 asks for int8 (read on every call),
// and int8 only where the kernel runs.
TEST(Int8Kernels, PreferenceFollowsTheEnvironment) {
  unsetenv("MSAAS_FAST_INT8");
  EXPECT_FALSE(demucs::int8_products_preferred()) << "off by default";
  setenv("MSAAS_FAST_INT8", "1", 1);
  EXPECT_EQ(demucs::int8_products_preferred(), int8_products_available());
  setenv("MSAAS_FAST_INT8", "0", 1);
  EXPECT_FALSE(demucs::int8_products_preferred());
  unsetenv("MSAAS_FAST_INT8");
}

TEST(Int8Kernels, RowsRoundToNearestEvenOnTheirOwnScale) {
  if (!int8_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  // Row 0's scale is 1: halves round to even. Row 1's largest is negative. Row 2 is zeros.
  // 19 columns: past one vector of 16; out_ld 24 leaves padding.
  int64_t k = 19, out_ld = 24;
  std::vector<float> in(3 * k, 0.0f);
  float first[] = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -126.6f, 3.49f};
  std::copy(std::begin(first), std::end(first), in.begin());
  in[k + 18] = -254.0f, in[k + 0] = 3.0f, in[k + 1] = 127.0f;  // scale 2: 3 -> 1.5 -> 2
  std::vector<uint8_t> out(3 * out_ld, 7);
  std::vector<float> scales(3, -1.0f);
  demucs::quantize_rows_u8(in.data(), k, 3, k, out.data(), out_ld, scales.data());
  EXPECT_EQ(scales[0], 1.0f);
  EXPECT_EQ(scales[1], 2.0f);
  EXPECT_EQ(scales[2], 0.0f) << "a row of zeros";
  int expected_first[] = {255, 128, 130, 130, 128, 126, 1, 131};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(out[j], expected_first[j]) << "column " << j;
  EXPECT_EQ(out[out_ld + 0], 130);
  EXPECT_EQ(out[out_ld + 1], 128 + 64);  // 127 / 2 = 63.5 -> 64 (even)
  EXPECT_EQ(out[out_ld + 18], 1);        // -254 / 2 = -127
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = k; j < out_ld; ++j) EXPECT_EQ(out[r * out_ld + j], 128) << "padding";
  for (int64_t j = 0; j < k; ++j) EXPECT_EQ(out[2 * out_ld + j], 128);

  // A row so small that 127 over its largest magnitude overflows counts as zeros.
  std::vector<float> tiny(k, 1e-38f);
  float tiny_scale = -1;
  demucs::quantize_rows_u8(tiny.data(), k, 1, k, out.data(), out_ld, &tiny_scale);
  EXPECT_EQ(tiny_scale, 0.0f);
  EXPECT_EQ(out[0], 128);
  EXPECT_THROW(demucs::quantize_rows_u8(tiny.data(), k, 1, k, out.data(), k - 1, &tiny_scale),
               std::invalid_argument);
  EXPECT_THROW(demucs::int8_weight_of_size(4, demucs::kMaxInt8Depth + 1), std::invalid_argument)
      << "sums past 32 bits";

  float inf = std::numeric_limits<float>::infinity();
  for (float bad : {inf, -inf, std::nanf("")}) {
    std::vector<float> row(k, 1.0f);
    row[17] = bad;
    float scale = 0;
    demucs::quantize_rows_u8(row.data(), k, 1, k, out.data(), out_ld, &scale);
    EXPECT_TRUE(std::isnan(scale)) << "a row holding " << bad << " must give NaN outputs";
  }
}

// Ranges of 16-row blocks cut anywhere (the linear layers quantize their weight that way, a
// range per work item) give the same packing as the whole; the packing puts four consecutive
// numbers of a weight row in one word, and the offsets are 128 times each row's integers' sum.
TEST(Int8Kernels, WeightRowsPackByQuadsWithTheirOffsets) {
  if (!int8_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  std::mt19937 random(4);
  std::normal_distribution<float> normal;
  int64_t n = 45, k = 7;  // depth 8: one quad of padding per row
  std::vector<float> w(n * k);
  for (auto& x : w) x = normal(random);
  auto whole = demucs::int8_weight_of_size(n, k), by_ranges = whole;
  demucs::quantize_weight_rows(w.data(), 0, n, whole);
  for (int64_t j0 = 0; j0 < n; j0 += 20)
    demucs::quantize_weight_rows(w.data(), j0, std::min<int64_t>(20, n - j0), by_ranges);
  EXPECT_EQ(whole.quads, by_ranges.quads);
  EXPECT_EQ(whole.scales, by_ranges.scales);
  EXPECT_EQ(whole.offsets, by_ranges.offsets);
  ASSERT_EQ(whole.depth, 8);
  for (int64_t j = 0; j < n; ++j) {
    float largest = 0;
    for (int64_t i = 0; i < k; ++i) largest = std::max(largest, std::fabs(w[j * k + i]));
    EXPECT_FLOAT_EQ(whole.scales[j], largest / 127);
    int32_t sum = 0;
    for (int64_t i = 0; i < whole.depth; ++i) {
      int8_t q = whole.quads[((i / 4) * n + j) * 4 + i % 4];
      if (i >= k) {
        EXPECT_EQ(q, 0) << "padding";
        continue;
      }
      EXPECT_EQ(q, int(std::nearbyint(w[j * k + i] * (127 / largest)))) << j << "," << i;
      sum += q;
    }
    EXPECT_EQ(whole.offsets[j], 128 * sum);
  }
  EXPECT_THROW(demucs::quantize_weight_rows(w.data(), 40, 6, whole), std::invalid_argument);
}

// Rows and weight rows whose largest magnitude is 127 have the scale 1, so the product of their
// integers must come out exact, bias included, for every tile shape: rows past a tile of 6;
// last tiles of 1 to 4 vectors of 16 columns, full or partial; depths that are and are not
// multiples of 4. Nothing is written past row m or column n.
TEST(Int8Kernels, ProductIsExactWhereTheScalesAreOne) {
  if (!int8_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  std::mt19937 random(5);
  std::uniform_int_distribution<int> small(-127, 127);
  for (int64_t m : {1, 5, 6, 13})
    for (int64_t n : {3, 16, 20, 40, 64, 70, 90, 130})
      for (int64_t k : {1, 3, 4, 9, 64}) {
        std::vector<float> a(m * k), w(n * k), bias(n);
        for (auto& x : a) x = float(small(random));
        for (auto& x : w) x = float(small(random));
        for (auto& x : bias) x = float(small(random));
        for (int64_t i = 0; i < m; ++i) a[i * k + (i % k)] = i % 2 ? -127.0f : 127.0f;
        for (int64_t j = 0; j < n; ++j) w[j * k + (j % k)] = j % 3 ? 127.0f : -127.0f;
        auto packed = demucs::int8_weight_of_size(n, k);
        demucs::quantize_weight_rows(w.data(), 0, n, packed);
        int64_t lda = packed.depth + 4, ldc = n + 5;
        std::vector<uint8_t> rows(m * lda);
        std::vector<float> scales(m), c((m + 1) * ldc, -1.0f);
        demucs::quantize_rows_u8(a.data(), k, m, k, rows.data(), lda, scales.data());
        demucs::gemm_u8s8(rows.data(), lda, scales.data(), packed, bias.data(), c.data(), ldc, m);
        for (int64_t i = 0; i <= m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            if (i == m || j >= n) {
              ASSERT_EQ(c[i * ldc + j], -1.0f) << "wrote past row " << m << " or column " << n;
              continue;
            }
            float sum = bias[j];
            for (int64_t p = 0; p < k; ++p) sum += a[i * k + p] * w[j * k + p];
            ASSERT_EQ(c[i * ldc + j], sum) << m << "x" << n << "x" << k << " at " << i << "," << j;
          }
      }
}

// What int8 factors are: each row of t (float32, last dimension) rounded to integers on its own
// scale, computed in float as the kernel does it (so no value near a half rounds the other
// way), returned in double.
at::Tensor rounded_rows(const at::Tensor& t) {
  auto rows = t.reshape({-1, t.size(-1)}).contiguous();
  auto out = at::empty(rows.sizes(), rows.options().dtype(at::kDouble));
  int64_t k = rows.size(1);
  const float* in = rows.data_ptr<float>();
  double* values = out.data_ptr<double>();
  for (int64_t r = 0; r < rows.size(0); ++r) {
    float largest = 0;
    for (int64_t j = 0; j < k; ++j) largest = std::max(largest, std::fabs(in[r * k + j]));
    float to_integers = 127.0f / largest, scale = largest / 127.0f;
    for (int64_t j = 0; j < k; ++j)
      values[r * k + j] = double(std::nearbyint(in[r * k + j] * to_integers)) * scale;
  }
  return out.view(t.sizes());
}

TEST(Int8Kernels, LinearTakesEachRowOnItsOwnScale) {
  at::manual_seed(9);
  auto [x, weight, bias] = random_linear_case();
  if (!int8_products_available()) {
    EXPECT_FALSE(demucs::linear_int8_cpu(x, weight, bias));
    GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  }
  // Tokens [B, T, C] with a width that is not a multiple of 4 and a row count past the 48-row
  // work items; outputs past the weight's 128-row quantizing items, the last one partial.
  x = at::randn({2, 101, 33}) * 3, weight = at::randn({300, 33}) * 0.2, bias = at::randn({300});
  auto y = demucs::linear_int8_cpu(x, weight, bias);
  ASSERT_TRUE(y);
  ASSERT_EQ(y->sizes(), (std::vector<int64_t>{2, 101, 300}));
  EXPECT_EQ(y->scalar_type(), at::kFloat);
  // The layer must give the double-precision product of the rounded factors (to float32's
  // rounding of the scales' product and the sum), within the rounding's reach of the float32
  // product.
  auto expected = at::linear(rounded_rows(x), rounded_rows(weight), bias.to(at::kDouble));
  auto error = (y->to(at::kDouble) - expected).abs().max().item<double>();
  EXPECT_LT(error, 1e-5) << "not int8 factors on per-row scales";
  // Each rounded number lies within half its row's step (scale) of the float: an output moves by
  // at most sum |x| * w_step / 2 + x_step / 2 * sum |w| + k * x_step * w_step / 4.
  auto off = (*y - at::linear(x, weight, bias)).abs();
  auto x_step = x.abs().amax(-1, true) / 127, w_step = weight.abs().amax(-1) / 127;
  auto reach = x.abs().sum(-1, true) * w_step / 2 + x_step / 2 * weight.abs().sum(-1) +
               33 * x_step * w_step / 4;
  EXPECT_GT(off.max().item<float>(), 1e-3) << "no rounding seen";
  EXPECT_TRUE((off <= reach + 1e-4).all().item<bool>()) << "more than the rounding's reach";
  // Row slices of a weight (the cross-attention's key and value rows): each row on its own
  // scale, so a slice gives its columns' bits.
  auto sliced = demucs::linear_int8_cpu(x, weight.slice(0, 30), bias.slice(0, 30));
  ASSERT_TRUE(sliced);
  EXPECT_TRUE(at::equal(*sliced, y->slice(2, 30))) << "a slice of the weight must give its columns";
  expect_no_bias_and_refusals(demucs::linear_int8_cpu, x, weight, bias, expected, 1e-5);
}

// The feed-forward block with int8 factors gives the bits of its two layers run one after the
// other through linear_int8_cpu, with the same GELU between them; the norm-first half adds the
// norm and the residual sum around that block.
TEST(Int8Kernels, FeedForwardInOnePassGivesTheBitsOfItsLayers) {
  using demucs::Activation;
  at::manual_seed(10);
  auto x = at::randn({2, 101, 33});
  demucs::FeedForwardWeights ff{at::randn({300, 33}) * 0.3, at::randn({300}),
                                at::randn({40, 300}) * 0.1, at::randn({40})};
  ff.int8 = true;
  if (!int8_products_available()) {
    EXPECT_FALSE(demucs::feed_forward_bf16_cpu(x, ff));
    GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  }
  expect_block_gives_its_layers_bits(ff, x, demucs::linear_int8_cpu);
  auto bf16 = ff;
  bf16.int8 = false;
  ff.activation = bf16.activation = Activation::gelu;
  auto off = (*demucs::feed_forward_bf16_cpu(x, ff) - *demucs::feed_forward_bf16_cpu(x, bf16));
  EXPECT_GT(off.abs().max().item<float>(), 0.0f) << "int8 was not taken";

  int64_t width = 33;
  demucs::FeedForwardWeights square{at::randn({144, width}) * 0.3, at::randn({144}),
                                    at::randn({width, 144}) * 0.1, at::randn({width})};
  square.int8 = true;
  demucs::NormAndResidual around{at::rand({width}) + 0.5, at::randn({width}), 1e-5,
                                 at::rand({width})};
  auto y = demucs::feed_forward_bf16_cpu(x, square, around);
  ASSERT_TRUE(y);
  auto normed = at::layer_norm(x, {width}, around.norm_weight, around.norm_bias, around.eps);
  auto expected = x + around.gamma * *demucs::feed_forward_bf16_cpu(normed, square);
  // Each token's norm is computed in float by two passes of its own, not by ATen: a value near
  // a rounding boundary may round to the next integer.
  auto error = (*y - expected).abs();
  EXPECT_LT(error.max().item<float>(), 0.05) << "not x + gamma * feed_forward(norm(x))";
  EXPECT_LT(error.mean().item<float>(), 1e-3) << error.mean().item<float>();
}

}  // namespace
}  // namespace msaas::test
