// Fast mode's bfloat16 products (demucs/bf16_cpu.h, linear_bf16_cpu.h, feed_forward_bf16_cpu.h):
// the rounding against libtorch's own float-to-bfloat16 conversion, the two packings against each
// other, the projections against double-precision sums of rounded factors, and the product kernel
// against plain sums on inputs that bfloat16 holds exactly (small integers), where every product
// and sum is exact in float32, so the kernel must agree to the bit. Every shape's edge is covered:
// rows past a tile of 6, columns past a vector of 16 and a tile of 64, an odd depth padded with
// zeros.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "demucs/bf16_cpu.h"
#include "demucs/exp_cpu.h"
#include "demucs/feed_forward_bf16_cpu.h"
#include "demucs/linear_bf16_cpu.h"
#include "linear_check.h"
#include "product_check.h"

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

// Column ranges packed into a wider matrix (ldp): the linear layers pack their weight that way,
// a range per work item, the last one partial; the same numbers as one pack of the whole.
TEST(Bf16Kernels, PairsOfColumnRangesFillTheWholePacking) {
  std::mt19937 random(8);
  std::normal_distribution<float> normal;
  int64_t k = 7, n = 45, ldbt = k;
  std::vector<float> bt(n * ldbt);
  for (auto& x : bt) x = normal(random);
  int64_t depth = demucs::bf16_depth(k);
  std::vector<uint16_t> whole(depth * n, 0xeeee), by_ranges(depth * n, 0xeeee);
  demucs::pack_bf16_pairs_transposed(bt.data(), k, n, ldbt, whole.data());
  for (int64_t j0 = 0; j0 < n; j0 += 20)  // ranges of 20 columns: 16-column blocks cut inside
    demucs::pack_bf16_pairs_transposed(bt.data() + j0 * ldbt, k, std::min<int64_t>(20, n - j0),
                                       ldbt, by_ranges.data() + 2 * j0, n);
  EXPECT_EQ(by_ranges, whole);
  EXPECT_THROW(demucs::pack_bf16_pairs_transposed(bt.data(), k, n, ldbt, whole.data(), n - 1),
               std::invalid_argument);
}

TEST(Bf16Kernels, PairsOfATransposeMatchPairsOfTheMatrix) {
  std::mt19937 random(5);
  std::normal_distribution<float> normal;
  // bt: n rows (b's columns) of k numbers (b's rows), row stride k + 2; an odd k pads b with a
  // zero row; n past the packing's blocks of 16 columns, or short of one.
  for (auto [k, n] : std::vector<std::pair<int64_t, int64_t>>{{5, 3}, {6, 37}, {64, 40}}) {
    int64_t ldbt = k + 2;
    std::vector<float> bt(n * ldbt), b(k * n);
    for (auto& x : bt) x = normal(random);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < n; ++j) b[i * n + j] = bt[j * ldbt + i];
    int64_t depth = demucs::bf16_depth(k), guard = 8;  // numbers past the packing's end
    std::vector<uint16_t> from_transpose(depth * n + guard, 0xeeee),
        from_matrix(depth * n + guard, 0xeeee);
    demucs::pack_bf16_pairs_transposed(bt.data(), k, n, ldbt, from_transpose.data());
    demucs::pack_bf16_pairs(b.data(), k, n, n, from_matrix.data());
    EXPECT_EQ(from_transpose, from_matrix) << k << " x " << n;
    EXPECT_EQ(from_transpose.back(), 0xeeee) << "wrote past the packing";
  }
}

// Fast mode's projections: bfloat16 factors, float32 sums, the bias added in float32.
TEST(Bf16Kernels, LinearTakesBfloat16FactorsAndSumsInFloat32) {
  if (!bf16_products_available()) {
    EXPECT_FALSE(demucs::linear_bf16_cpu(at::randn({2, 4}), at::randn({3, 4}), at::randn({3})));
    GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  }
  at::manual_seed(9);
  // Tokens [B, T, C] with an odd width and a row count past the 48-row work items; outputs past
  // the weight's 128-column packing items, the last one partial.
  auto [x, weight, bias] = random_linear_case();
  auto y = demucs::linear_bf16_cpu(x, weight, bias);
  ASSERT_TRUE(y);
  ASSERT_EQ(y->sizes(), (std::vector<int64_t>{2, 101, 300}));
  EXPECT_EQ(y->scalar_type(), at::kFloat);
  auto rounded = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kDouble); };
  auto expected = at::linear(rounded(x), rounded(weight), bias.to(at::kDouble));
  auto error = (y->to(at::kDouble) - expected).abs().max().item<double>();
  EXPECT_LT(error, 1e-5) << "not bfloat16 factors with float32 sums";
  auto exact = at::linear(x, weight, bias);
  EXPECT_GT((*y - exact).abs().max().item<float>(), 1e-4) << "no rounding seen";
  // Column slices of a packed weight (the cross-attention's key and value rows).
  auto sliced = demucs::linear_bf16_cpu(x, weight.slice(0, 30), bias.slice(0, 30));
  ASSERT_TRUE(sliced);
  EXPECT_TRUE(at::equal(*sliced, y->slice(2, 30))) << "a slice of the weight must give its columns";
  expect_no_bias_and_refusals(demucs::linear_bf16_cpu, x, weight, bias, expected, 1e-5);
}

// The feed-forward block in one pass gives the bits of its two layers one after the other,
// with the same GELU between them: the hidden layer's blocks change nothing but where it lies.
// Token counts past and short of the 48-token blocks, an odd width, a hidden width past the
// packing's 128-column items.
TEST(Bf16Kernels, FeedForwardInOnePassGivesTheBitsOfItsLayers) {
  using demucs::Activation;
  at::manual_seed(10);
  auto x = at::randn({2, 101, 33});
  demucs::FeedForwardWeights ff{at::randn({300, 33}) * 0.3, at::randn({300}),
                                at::randn({40, 300}) * 0.1, at::randn({40})};
  if (!bf16_products_available()) {
    EXPECT_FALSE(demucs::feed_forward_bf16_cpu(x, ff));
    GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  }
  expect_block_gives_its_layers_bits(ff, x, demucs::linear_bf16_cpu);
  ff.activation = Activation::gelu;
  auto rounded = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kDouble); };
  auto hidden =
      at::gelu(at::linear(rounded(x), rounded(ff.w1), ff.b1.to(at::kDouble)));  // in double
  auto expected = at::linear(rounded(hidden), rounded(ff.w2), ff.b2.to(at::kDouble));
  auto error = (demucs::feed_forward_bf16_cpu(x, ff)->to(at::kDouble) - expected).abs();
  // A hidden value near a rounding boundary may round the other way (1 in 256 steps of w2).
  EXPECT_LT(error.max().item<double>(), 0.01) << "not the feed-forward block";
  EXPECT_LT(error.mean().item<double>(), 1e-4) << "not bfloat16 factors with float32 sums";
  EXPECT_FALSE(demucs::feed_forward_bf16_cpu(x.to(at::kDouble), ff)) << "float32 only";
  auto narrow = ff;
  narrow.w2 = ff.w2.slice(1, 1);
  EXPECT_FALSE(demucs::feed_forward_bf16_cpu(x, narrow))
      << "the second layer must take the hidden width";
  auto no_bias = ff;
  no_bias.b1 = at::Tensor();
  EXPECT_FALSE(demucs::feed_forward_bf16_cpu(x, no_bias)) << "the transformer's layers have biases";
}

// A norm-first layer's feed-forward half, x + gamma * feed_forward(layer_norm(x)), against
// ATen's layer norm, the block alone and the sum: each token's norm is its own (two passes in
// float), so a hidden value near a bfloat16 rounding boundary may round the other way.
TEST(Bf16Kernels, FeedForwardHalfAddsTheNormAndTheResidual) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  at::manual_seed(12);
  int64_t width = 37;  // odd: the bfloat16 rows padded; x a slice, not contiguous
  auto x = (at::randn({2, 101, width + 3}) * 3 + 1).slice(2, 1, width + 1);
  demucs::FeedForwardWeights ff{at::randn({144, width}) * 0.3, at::randn({144}),
                                at::randn({width, 144}) * 0.1, at::randn({width})};
  ASSERT_FALSE(x.is_contiguous());
  demucs::NormAndResidual around{at::rand({width}) + 0.5, at::randn({width}), 1e-5,
                                 at::rand({width})};
  for (bool layer_scale : {true, false}) {
    auto a = around;
    if (!layer_scale) a.gamma = at::Tensor();
    auto y = demucs::feed_forward_bf16_cpu(x, ff, a);
    ASSERT_TRUE(y);
    auto normed = at::layer_norm(x, {width}, a.norm_weight, a.norm_bias, a.eps);
    auto block = *demucs::feed_forward_bf16_cpu(normed, ff);
    auto expected = layer_scale ? x + a.gamma * block : x + block;
    auto error = (*y - expected).abs();
    // A normed value rounding the other way moves its token's 144 hidden values by a step.
    EXPECT_LT(error.max().item<float>(), 0.05) << "not x + gamma * feed_forward(norm(x))";
    EXPECT_LT(error.mean().item<float>(), 2e-4) << error.mean().item<float>();
    EXPECT_GT((*y - x -
               (layer_scale ? a.gamma : at::ones({width})) * *demucs::feed_forward_bf16_cpu(x, ff))
                  .abs()
                  .max()
                  .item<float>(),
              0.5)
        << "the norm was left out";
  }
  auto short_norm = around;
  short_norm.norm_weight = around.norm_weight.slice(0, 1);
  EXPECT_FALSE(demucs::feed_forward_bf16_cpu(x, ff, short_norm)) << "a norm of another width";
  auto wider = ff;
  wider.w2 = at::randn({width + 1, 144}), wider.b2 = at::randn({width + 1});
  EXPECT_FALSE(demucs::feed_forward_bf16_cpu(x, wider, around)) << "no residual sum: out != in";
}

TEST(Bf16Kernels, ProductIsExactOnNumbersBfloat16Holds) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  auto product = [](const std::vector<float>& a, int64_t lda, const std::vector<float>& b,
                    int64_t ldb, std::vector<float>& c, int64_t ldc, int64_t m, int64_t n,
                    int64_t k) {
    int64_t depth = demucs::bf16_depth(k);  // an odd k gets a zero column
    std::vector<uint16_t> rows(m * depth, 0);
    for (int64_t i = 0; i < m; ++i)
      demucs::round_to_bf16(a.data() + i * lda, rows.data() + i * depth, k);
    std::vector<uint16_t> pairs(depth * n);
    demucs::pack_bf16_pairs(b.data(), k, n, ldb, pairs.data());
    demucs::gemm_bf16(rows.data(), depth, pairs.data(), c.data(), ldc, m, n, depth);
  };
  expect_exact_products(product, 7);
}

// The form the convolutions use (Bf16Rows, gemm_bf16_floats): a weight rounded once, float32
// right factors packed on each call into scratch that is reused across shapes.
TEST(Bf16Kernels, RoundedRowsTimesFloatsIsExactOnNumbersBfloat16Holds) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  std::vector<uint16_t> pairs;  // shared by every call, as a work item shares it
  auto product = [&](const std::vector<float>& a, int64_t lda, const std::vector<float>& b,
                     int64_t ldb, std::vector<float>& c, int64_t ldc, int64_t m, int64_t n,
                     int64_t k) {
    std::vector<float> rows(m * k);  // a weight is contiguous
    for (int64_t i = 0; i < m; ++i)
      std::copy(a.begin() + i * lda, a.begin() + i * lda + k, rows.begin() + i * k);
    demucs::Bf16Rows weight(rows.data(), m, k);
    ASSERT_EQ(weight.depth, demucs::bf16_depth(k));
    demucs::gemm_bf16_floats(weight, b.data(), ldb, n, c.data(), ldc, pairs);
  };
  expect_exact_products(product, 11);
}

TEST(Bf16Kernels, ProductNeedsAnEvenDepth) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  std::vector<uint16_t> a(6), b(6);
  std::vector<float> c(4);
  EXPECT_THROW(demucs::gemm_bf16(a.data(), 3, b.data(), c.data(), 2, 2, 2, 3), std::logic_error);
}

}  // namespace
}  // namespace msaas::test
