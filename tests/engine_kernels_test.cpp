// The engine's own CPU kernels against the ATen operators they stand in for (the official code's
// arithmetic): fused DConv, 1x1 and transposed convolutions as matrix products, Winograd 3x3
// convolutions, attention by blocks of query rows, inverse STFT.
// Random weights and inputs, shapes as the hybrid models use them, long sequences included.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <tuple>

#include "demucs/attention_cpu.h"
#include "demucs/backend.h"
#include "demucs/bf16_cpu.h"
#include "demucs/conv_cpu.h"
#include "demucs/demucs.h"
#include "demucs/exp_cpu.h"
#include "demucs/f32_cpu.h"
#include "demucs/feed_forward_bf16_cpu.h"
#include "demucs/group_norm_cpu.h"
#include "demucs/linear_bf16_cpu.h"
#include "demucs/linear_f32_cpu.h"
#include "demucs/linear_int8_cpu.h"
#include "demucs/nn.h"
#include "demucs/parallel_items.h"
#include "demucs/pointwise_cpu.h"
#include "demucs/spec.h"
#include "demucs/transformer.h"
#include "demucs/unfold_conv_cpu.h"
#include "demucs/winograd_cpu.h"
#include "demucs/winograd_tiles.h"

namespace msaas::test {
namespace {

// Signal-to-error ratio of `mine` against `reference`, in dB.
double snr_db(const at::Tensor& mine, const at::Tensor& reference) {
  double signal = reference.to(at::kDouble).pow(2).sum().item<double>();
  double error = (mine.to(at::kDouble) - reference.to(at::kDouble)).pow(2).sum().item<double>();
  return 10 * std::log10(signal / std::max(error, 1e-300));
}

// ATen's thread count for one scope, restored when the scope ends (an ASSERT's early return too).
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : before_(at::get_num_threads()) {
    at::set_num_threads(threads);
  }
  ~ThreadCount() { at::set_num_threads(before_); }

 private:
  int before_;
};

// x rounded to bfloat16 (to nearest, ties to even, as the engine's own rounding), back in float32.
at::Tensor bf16(const at::Tensor& x) {
  return x.to(at::kBFloat16).to(at::kFloat);
}

// Fast mode's attention core as its kernels compute it: bfloat16 factors, float32 sums. The
// softmax's numerators (largest 1) are rounded, the division by their float32 sum comes last.
at::Tensor attention_in_bf16_factors(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                     int64_t heads) {
  int64_t B = q.size(0), Tq = q.size(1), C = q.size(2), d = C / heads;
  auto split = [&](const at::Tensor& t) { return t.view({B, -1, heads, d}).transpose(1, 2); };
  auto scores = at::matmul(split(bf16(q)), split(bf16(k)).transpose(-2, -1));
  auto numerators = (scores - std::get<0>(scores.max(-1, true))).exp();
  auto y = at::matmul(bf16(numerators), split(bf16(v))) / numerators.sum(-1, true);
  return y.transpose(1, 2).reshape({B, Tq, C});
}

// An ATen convolution of x and w rounded to bfloat16, summed in double: what fast mode's own
// convolution kernels compute, up to their float32 sums' order.
at::Tensor conv_in_bf16_factors(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                at::IntArrayRef stride, bool transposed) {
  auto xd = bf16(x).to(at::kDouble), wd = bf16(w).to(at::kDouble);
  auto bd = b.defined() ? b.to(at::kDouble) : b;
  if (transposed)
    return x.dim() == 4 ? at::conv_transpose2d(xd, wd, bd, stride)
                        : at::conv_transpose1d(xd, wd, bd, stride);
  return x.dim() == 4 ? at::conv2d(xd, wd, bd, stride) : at::conv1d(xd, wd, bd, stride);
}

// One random DConv branch in dconv_cpu's layout (conv_in's taps stacked by rows).
demucs::DConvBranch random_branch(int64_t channels, int64_t hidden, int64_t dilation) {
  demucs::DConvBranch br;
  br.conv_in_weight = at::randn({3 * hidden, channels}) / std::sqrt(3.0 * channels);
  br.conv_in_bias = at::randn({hidden}) * 0.1;
  br.norm_in_weight = 1 + at::randn({hidden}) * 0.1;
  br.norm_in_bias = at::randn({hidden}) * 0.1;
  br.conv_out_weight = at::randn({2 * channels, hidden}) / std::sqrt(double(hidden));
  br.conv_out_bias = at::randn({2 * channels}) * 0.1;
  br.norm_out_weight = 1 + at::randn({2 * channels}) * 0.1;
  br.norm_out_bias = at::randn({2 * channels}) * 0.1;
  br.scale = at::randn({channels}) * 0.3;
  br.dilation = br.padding = dilation;
  return br;
}

// A branch as fast mode computes it, on [B, C, T]: conv_in from bfloat16 factors (in double
// here), conv_out, the norms, GELU, GLU and the residual sum as the exact mode has them.
at::Tensor branch_in_bf16_factors(const demucs::DConvBranch& br, const at::Tensor& x) {
  int64_t hidden = br.conv_in_bias.numel(), C = x.size(1);
  auto d = [](const at::Tensor& t) { return t.to(at::kDouble); };
  auto w_in = br.conv_in_weight.view({3, hidden, C}).permute({1, 2, 0});  // [hidden, C, 3]
  auto h = at::conv1d(d(bf16(x)), d(bf16(w_in)), d(br.conv_in_bias), 1, br.padding, br.dilation);
  h = at::gelu(at::group_norm(h, 1, d(br.norm_in_weight), d(br.norm_in_bias), br.eps));
  auto u = at::conv1d(h, d(br.conv_out_weight).unsqueeze(-1), d(br.conv_out_bias));
  u = at::group_norm(u, 1, d(br.norm_out_weight), d(br.norm_out_bias), br.eps);
  return d(x) + d(br.scale).view({1, -1, 1}) * at::glu(u, 1);
}

// A DConv of `depth` branches with random weights under the checkpoint's names.
demucs::DConv random_dconv(int64_t channels, int64_t depth, double compress) {
  at::manual_seed(7);
  int64_t hidden = static_cast<int64_t>(channels / compress);
  std::map<std::string, at::Tensor> state;
  for (int64_t d = 0; d < depth; ++d) {
    std::string p = "dconv.layers." + std::to_string(d) + ".";
    state[p + "0.weight"] = at::randn({hidden, channels, 3}) / std::sqrt(3.0 * channels);
    state[p + "0.bias"] = at::randn({hidden}) * 0.1;
    state[p + "1.weight"] = 1 + at::randn({hidden}) * 0.1;
    state[p + "1.bias"] = at::randn({hidden}) * 0.1;
    state[p + "3.weight"] = at::randn({2 * channels, hidden, 1}) / std::sqrt(double(hidden));
    state[p + "3.bias"] = at::randn({2 * channels}) * 0.1;
    state[p + "4.weight"] = 1 + at::randn({2 * channels}) * 0.1;
    state[p + "4.bias"] = at::randn({2 * channels}) * 0.1;
    state[p + "6.scale"] = at::randn({channels}) * 0.3;
  }
  demucs::Weights weights(state);
  demucs::DConvConfig config;
  config.depth = depth;
  config.compress = compress;
  demucs::DConv dconv(weights, "dconv", channels, config);
  weights.check_all_used();
  return dconv;
}

TEST(EngineKernels, FusedDConvMatchesAtenOnTimeSequences) {
  c10::InferenceMode guard;
  auto dconv = random_dconv(16, 2, 8);
  // Short (one thread per sequence) and long (chunks of time shared by the threads) sequences;
  // long ones shorter than their 8 chunks (1 step each, less than the taps' reach) and as long as
  // htdemucs' innermost time layer.
  for (int64_t T : {1, 5, 300, 1344, 9000}) {
    for (int64_t B : {1, 5}) {
      auto x = at::randn({B, 16, T}) * 2 + 0.5;
      ASSERT_TRUE(dconv.can_fuse(x));
      auto before = x.clone();
      auto fused = dconv.fused(x);
      EXPECT_GT(snr_db(fused, dconv(x)), 100.0) << "B " << B << " T " << T;
      EXPECT_TRUE(at::equal(x, before)) << "the input stays as it was";
    }
  }
}

TEST(EngineKernels, FusedDConvRunsEachFrequencyRowAsItsOwnSequence) {
  c10::InferenceMode guard;
  auto dconv = random_dconv(24, 2, 4);
  // B, C, F, T: rows dealt over groups of 33-34 (at most 40 of 50 steps) and of 4 (at most 6
  // of 336 steps, htdemucs' innermost frequency layer).
  for (auto [F, T] : {std::pair<int64_t, int64_t>{100, 50}, {8, 336}}) {
    auto x = at::randn({2, 24, F, T});
    auto rows = x.permute({0, 2, 1, 3}).reshape({-1, 24, T});
    auto reference = dconv(rows).view({2, F, 24, T}).permute({0, 2, 1, 3});
    EXPECT_GT(snr_db(dconv.fused(x), reference), 100.0) << F << " rows of " << T;
  }
}

// Fast mode: conv_in from bfloat16 factors with float32 sums, the rest float32, on time
// sequences short and long (chunks of time shared by the threads) and on frequency rows.
TEST(EngineKernels, FusedDConvTakesBfloat16FactorsInFastMode) {
  c10::InferenceMode guard;
  at::manual_seed(13);
  std::vector<demucs::DConvBranch> branches{random_branch(24, 3, 1), random_branch(24, 3, 2)};
  for (int64_t T : {300, 9000}) {
    auto x = at::randn({1, 24, T}) * 2 + 0.5;
    auto fast = demucs::dconv_cpu(branches, true, x, true);
    auto exact = demucs::dconv_cpu(branches, true, x, false);
    auto expected = x.to(at::kDouble);
    for (const auto& br : branches) expected = branch_in_bf16_factors(br, expected.to(at::kFloat));
    if (!demucs::bf16_products_available()) {
      EXPECT_TRUE(at::equal(fast, exact)) << "float32 where the CPU has no AVX-512 BF16";
      continue;
    }
    double emulated_snr = snr_db(fast - x, expected - x.to(at::kDouble));
    double exact_snr = snr_db(fast - x, exact - x);
    std::cout << "fast DConv, T " << T << ": " << emulated_snr << " dB from the emulation, "
              << exact_snr << " dB from exact\n";
    EXPECT_GT(emulated_snr, 80.0) << "T " << T;
    EXPECT_LT(exact_snr, 80.0) << "no rounding seen, T " << T;
  }
  // Frequency rows (B, C, F, T), each its own sequence, several to a product: the frequency
  // branch's path, taken when there are at least two rows per thread.
  int64_t F = std::max<int64_t>(40, at::get_num_threads());
  auto x = at::randn({2, 24, F, 60});
  auto rows = x.permute({0, 2, 1, 3}).reshape({-1, 24, 60});
  auto expected = rows.to(at::kDouble);
  for (const auto& br : branches) expected = branch_in_bf16_factors(br, expected.to(at::kFloat));
  expected = expected.view({2, F, 24, 60}).permute({0, 2, 1, 3});
  auto fast = demucs::dconv_cpu(branches, true, x, true);
  if (demucs::bf16_products_available()) {
    EXPECT_GT(snr_db(fast - x, expected - x.to(at::kDouble)), 80.0) << "frequency rows";
  } else {
    EXPECT_TRUE(at::equal(fast, demucs::dconv_cpu(branches, true, x, false)));
  }
}

TEST(EngineKernels, FusedDConvRunsInFastModeAndReturnsFloat32) {
  c10::InferenceMode guard;
  auto dconv = random_dconv(16, 2, 8);
  auto x = at::randn({1, 16, 500});
  auto exact = dconv(x);
  at::autocast::set_cpu_enabled(true);
  bool fuses_float = dconv.can_fuse(x), fuses_bf16 = dconv.can_fuse(x.to(at::kBFloat16));
  auto fast = dconv.fused(x);
  bool still_on = at::autocast::is_cpu_enabled();
  at::autocast::set_cpu_enabled(false);
  EXPECT_TRUE(fuses_float && fuses_bf16);
  EXPECT_TRUE(still_on) << "fast mode must be back on after the fused branch";
  EXPECT_EQ(fast.scalar_type(), at::kFloat);
  EXPECT_GT(snr_db(fast - x, exact - x), 35.0) << "bfloat16 factors at most";
  if (demucs::bf16_products_available()) {
    EXPECT_LT(snr_db(fast - x, exact - x), 80.0) << "fast mode did not reach the kernel";
  }
  EXPECT_FALSE(dconv.can_fuse(x.to(at::kBFloat16))) << "bfloat16 outside fast mode is ATen's";
}

TEST(EngineKernels, PointwiseConvolutionsAreMatrixProducts) {
  c10::InferenceMode guard;
  at::manual_seed(3);
  auto w1 = at::randn({12, 8, 1}), b = at::randn({12});
  auto x1 = at::randn({2, 8, 1000});
  auto y1 = demucs::conv_cpu(x1, w1, b, {1}, {0}, {1}, false);
  ASSERT_TRUE(y1);
  EXPECT_GT(snr_db(*y1, at::conv1d(x1, w1, b)), 120.0);
  auto w2 = at::randn({12, 8, 1, 1});
  auto x2 = at::randn({1, 8, 33, 40});
  auto y2 = demucs::conv_cpu(x2, w2, b, {1, 1}, {0, 0}, {1, 1}, false);
  ASSERT_TRUE(y2);
  EXPECT_GT(snr_db(*y2, at::conv2d(x2, w2, b)), 120.0);
  // Fast mode's too: from bfloat16 factors they cost a stem 0.30 dB.
  auto fast = demucs::conv_cpu(x1, w1, b, {1}, {0}, {1}, false, true);
  ASSERT_TRUE(fast);
  EXPECT_TRUE(at::equal(*fast, *y1)) << "1x1 convolutions stay float32 in fast mode";
}

// Convolutions along one axis over unfolded columns (unfold_conv_cpu.h) against ATen in double
// precision: strides (one past the kernel), paddings (one wider than the kernel, whose first
// outputs see only padding), lengths whose last window hangs over the end, batches, no bias, a
// strided input, more positions than one work item takes, and the frequency branch's [K, 1]
// kernels.
TEST(EngineKernels, UnfoldedConvolutionsMatchAten) {
  c10::InferenceMode guard;
  at::manual_seed(17);
  struct Case {
    std::vector<int64_t> input, weight;
    int64_t S, P;
    bool bias;
  };
  for (const auto& c : std::vector<Case>{{{2, 3, 101}, {5, 3, 8}, 4, 2, true},
                                         {{1, 7, 50}, {9, 7, 3}, 1, 1, false},
                                         {{1, 2, 10001}, {48, 2, 8}, 4, 2, true},
                                         {{1, 4, 30}, {6, 4, 5}, 2, 0, true},
                                         {{1, 2, 10}, {3, 2, 3}, 1, 4, true},
                                         {{1, 3, 50}, {4, 3, 2}, 5, 1, true},
                                         {{1, 64, 90}, {70, 64, 8}, 4, 2, true},
                                         {{2, 4, 64, 33}, {12, 4, 8, 1}, 4, 2, true},
                                         {{1, 3, 17, 5}, {4, 3, 3, 1}, 1, 1, false}}) {
    auto x = at::randn(c.input), w = at::randn(c.weight) * 0.3;
    auto b = c.bias ? at::randn({c.weight[0]}) : at::Tensor();
    auto mine = demucs::unfold_conv_cpu(x, w, b, c.S, c.P);
    auto xd = x.to(at::kDouble), wd = w.to(at::kDouble);
    auto bd = c.bias ? b.to(at::kDouble) : at::Tensor();
    auto reference = x.dim() == 3 ? at::conv1d(xd, wd, bd, c.S, c.P)
                                  : at::conv2d(xd, wd, bd, {c.S, 1}, {c.P, 0});
    ASSERT_EQ(mine.sizes(), reference.sizes()) << x.sizes();
    EXPECT_GT(snr_db(mine.to(at::kDouble), reference), 120.0) << x.sizes();
  }
  auto strided = at::randn({2, 40, 3}).transpose(1, 2);  // [2, 3, 40], not contiguous
  auto w = at::randn({5, 3, 8}), b = at::randn({5});
  EXPECT_GT(snr_db(demucs::unfold_conv_cpu(strided, w, b, 4, 2), at::conv1d(strided, w, b, 4, 2)),
            110.0);
  // conv_cpu hands it the shallow ones in the exact mode (where the CPU has AVX-512F); the deep
  // ones, fast mode's and kernels wider than the padded input are ATen's.
  auto x = at::randn({2, 8, 1000});
  auto shallow = demucs::conv_cpu(x, at::randn({12, 8, 3}), {}, {1}, {1}, {1}, false);
  EXPECT_EQ(shallow.has_value(), demucs::f32_products_available());
  EXPECT_FALSE(demucs::conv_cpu(x, at::randn({12, 8, 3}), {}, {1}, {1}, {1}, false, true));
  EXPECT_FALSE(
      demucs::conv_cpu(at::randn({1, 40, 100}), at::randn({12, 40, 8}), {}, {4}, {2}, {1}, false))
      << "320 deep: oneDNN's";
  EXPECT_FALSE(
      demucs::conv_cpu(at::randn({1, 8, 3}), at::randn({12, 8, 8}), {}, {4}, {2}, {1}, false))
      << "a kernel wider than the padded input is ATen's to refuse";
  EXPECT_FALSE(demucs::conv_cpu(x, at::randn({12, 8, 3}), {}, {1}, {1}, {2}, false)) << "dilated";
  EXPECT_FALSE(demucs::conv_cpu(x, at::randn({12, 8, 3}), at::randn({3}), {1}, {1}, {1}, false))
      << "a bias of the wrong length is ATen's to refuse";
  EXPECT_FALSE(demucs::conv_cpu(at::randn({1, 4, 64, 0}), at::randn({12, 4, 8, 1}), {}, {4, 1},
                                {2, 0}, {1, 1}, false))
      << "empty: ATen's";
  EXPECT_FALSE(
      demucs::conv_cpu(at::randn({1, 0, 64}), at::randn({12, 0, 3}), {}, {1}, {1}, {1}, false));
}

// The 1x1 convolutions on the engine's float32 kernel (pointwise_cpu.h), and an encoder's rewrite
// with its GLU in one pass, against ATen in double precision: positions past and short of the
// 64-column blocks, a batch of two, 1-D and 2-D inputs, a deep layer's block of 64 columns.
TEST(EngineKernels, PointwiseKernelsMatchAtenAndTheGlu) {
  c10::InferenceMode guard;
  at::manual_seed(13);
  if (!demucs::f32_products_available()) {
    EXPECT_FALSE(
        demucs::pointwise_glu_cpu(at::randn({1, 4, 9}), at::randn({8, 4, 1}), at::randn({8})));
    GTEST_SKIP() << "this CPU has no AVX-512F";
  }
  auto in_double = [](const at::Tensor& t) { return t.to(at::kDouble); };
  struct Case {
    std::vector<int64_t> x, w;
  };
  for (const Case& c : std::vector<Case>{{{2, 7, 1000}, {10, 7, 1}},
                                         {{1, 5, 33, 41}, {6, 5, 1, 1}},
                                         {{1, 48, 3}, {96, 48}},
                                         {{1, 300, 130}, {1200, 300, 1}}}) {
    auto x = at::randn(c.x), w = at::randn(c.w) * 0.2, b = at::randn({c.w[0]});
    auto conv = demucs::pointwise_conv_cpu(x, w, b);
    ASSERT_TRUE(conv);
    auto flat_w = in_double(w).view({c.w[0], c.w[1]});
    auto expected = at::matmul(flat_w, in_double(x).flatten(2)) + in_double(b).view({-1, 1});
    EXPECT_GT(snr_db(conv->flatten(2), expected), 120.0) << c.w[0] << " outputs";
    auto no_bias = demucs::pointwise_conv_cpu(x, w, at::Tensor());
    ASSERT_TRUE(no_bias);
    EXPECT_GT(snr_db(no_bias->flatten(2), expected - in_double(b).view({-1, 1})), 120.0);
    auto gated = demucs::pointwise_glu_cpu(x, w, b);
    ASSERT_TRUE(gated);
    auto sizes = x.sizes().vec();
    sizes[1] = c.w[0] / 2;
    ASSERT_EQ(gated->sizes(), sizes);
    EXPECT_GT(snr_db(gated->flatten(2), at::glu(expected, 1)), 120.0) << c.w[0] << " outputs";
  }
  auto x = at::randn({1, 4, 9});
  EXPECT_FALSE(demucs::pointwise_glu_cpu(x, at::randn({7, 4, 1}), at::randn({7})))
      << "the GLU halves an even number of channels";
  EXPECT_FALSE(demucs::pointwise_glu_cpu(x, at::randn({8, 4, 1}), at::Tensor()))
      << "the rewrite has a bias";
  EXPECT_FALSE(demucs::pointwise_conv_cpu(x, at::randn({8, 4, 3}), at::randn({8})))
      << "a wider kernel";
  EXPECT_FALSE(demucs::pointwise_conv_cpu(x, at::randn({8, 5, 1}), at::randn({8})))
      << "another input depth";
  EXPECT_FALSE(demucs::pointwise_conv_cpu(x.to(at::kDouble), at::randn({8, 4, 1}), {}))
      << "float32 only";
}

// The rewrites and their GLU through Conv::glu_in_one_pass: the weight stored in float16 as the
// checkpoints store it, a float32 input in the exact mode and a bfloat16 one under autocast, 1x1
// (the encoders', float32 in fast mode too) and 3x3 (the frequency decoders', from bfloat16
// factors in fast mode), against ATen's convolution and GLU.
TEST(EngineKernels, RewriteAndItsGluRunInOnePassInBothModes) {
  c10::InferenceMode guard;
  at::manual_seed(14);
  auto in_double = [](const at::Tensor& t) { return t.to(at::kDouble); };
  for (int64_t k : {1, 3}) {
    demucs::Conv rewrite;
    rewrite.weight = (at::randn({16, 8, k, k}) * 0.3).to(at::kHalf);
    rewrite.bias = at::randn({16});
    rewrite.stride = {1, 1}, rewrite.padding = {k / 2, k / 2}, rewrite.dilation = {1, 1};
    auto x = at::randn({1, 8, 100, 90});  // 50 x 45 blocks: enough for Winograd
    // The 1x1 kernel needs AVX-512F; Winograd's products run on BLAS anywhere.
    if (k == 1 && !demucs::f32_products_available()) {
      EXPECT_FALSE(rewrite.glu_in_one_pass(x)) << "no AVX-512F";
      continue;
    }
    auto expected = at::glu(
        at::conv2d(in_double(x), in_double(rewrite.weight), in_double(rewrite.bias), 1, k / 2), 1);
    auto exact = rewrite.glu_in_one_pass(x);
    ASSERT_TRUE(exact) << k;
    EXPECT_GT(snr_db(*exact, expected), k == 1 ? 120.0 : 110.0) << k;
    bool fast_kernel = k == 1 || demucs::bf16_products_available();
    at::autocast::set_cpu_enabled(true);
    auto fast = rewrite.glu_in_one_pass(x.to(at::kBFloat16));
    auto through_operator = at::glu(rewrite(x.to(at::kBFloat16)).to(at::kFloat), 1);
    at::autocast::set_cpu_enabled(false);
    if (!fast_kernel) {
      EXPECT_FALSE(fast) << "fast mode's 3x3 stays with autocast without AVX-512 BF16";
      continue;
    }
    ASSERT_TRUE(fast) << k;
    EXPECT_EQ(fast->scalar_type(), at::kFloat);
    EXPECT_TRUE(at::allclose(*fast, through_operator, 1e-5, 1e-6))
        << k << ": not what the convolution gives in fast mode, then the GLU";
    if (k == 1) {
      EXPECT_TRUE(at::equal(*fast, *rewrite.glu_in_one_pass(x.to(at::kBFloat16).to(at::kFloat))))
          << "fast mode's 1x1 rewrite is the float32 one of its (bfloat16) input";
    } else {
      EXPECT_LT(snr_db(*fast, expected), 80.0) << "fast mode's 3x3 did not take bfloat16 factors";
      EXPECT_GT(snr_db(*fast, expected), 30.0);
    }
  }
  demucs::Conv rewrite;
  rewrite.weight = at::randn({16, 8, 1, 1}).to(at::kHalf);
  rewrite.bias = at::randn({16});
  rewrite.stride = {1, 1}, rewrite.padding = {0, 0}, rewrite.dilation = {1, 1};
  auto x = at::randn({1, 8, 12, 70});
  auto wide = rewrite, strided = rewrite, small = rewrite;
  wide.weight = at::randn({16, 8, 3, 1}).to(at::kHalf);
  strided.stride = {2, 1};
  small.weight = at::randn({16, 8, 3, 3}).to(at::kHalf);
  small.padding = {1, 1};
  EXPECT_FALSE(wide.glu_in_one_pass(x)) << "a 3x1 kernel";
  EXPECT_FALSE(strided.glu_in_one_pass(x)) << "a stride";
  EXPECT_FALSE(small.glu_in_one_pass(x)) << "too small an image for Winograd";
  // 3x3 convolutions Winograd would compute as another one, on an image large enough.
  auto large = at::randn({1, 8, 100, 90});
  auto unpadded = small, dilated = small, strided_3x3 = small, transposed = small;
  unpadded.padding = {0, 0};
  dilated.dilation = {2, 2};
  strided_3x3.stride = {2, 2};
  transposed.weight = at::randn({8, 8, 3, 3}).to(at::kHalf);
  transposed.transposed = true;
  ASSERT_TRUE(small.glu_in_one_pass(large));
  EXPECT_FALSE(unpadded.glu_in_one_pass(large)) << "no padding";
  EXPECT_FALSE(dilated.glu_in_one_pass(large)) << "a dilation";
  EXPECT_FALSE(strided_3x3.glu_in_one_pass(large)) << "a 3x3 stride";
  EXPECT_FALSE(transposed.glu_in_one_pass(large)) << "a transposed convolution";
  // The time decoders' 3-tap rewrite (float16 weight, as stored): in one pass in the exact mode
  // where the CPU has AVX-512F, with F(4, 3)'s rounding; fast mode leaves it to autocast.
  demucs::Conv taps;
  taps.weight = (at::randn({16, 8, 3}) * 0.2).to(at::kHalf);
  taps.bias = at::randn({16});
  taps.stride = {1}, taps.padding = {1}, taps.dilation = {1};
  auto sequence = at::randn({2, 8, 1001});
  auto exact = taps.glu_in_one_pass(sequence);
  ASSERT_EQ(exact.has_value(), demucs::f32_products_available());
  if (exact) {
    auto to_double = [](const at::Tensor& t) { return t.to(at::kDouble); };
    auto expected = at::glu(
        at::conv1d(to_double(sequence), to_double(taps.weight), to_double(taps.bias), 1, 1), 1);
    EXPECT_GT(snr_db(*exact, expected), 110.0);
    EXPECT_TRUE(at::allclose(*exact, at::glu(taps(sequence), 1), 1e-5, 1e-6));
  }
  at::autocast::set_cpu_enabled(true);
  EXPECT_FALSE(taps.glu_in_one_pass(sequence.to(at::kBFloat16))) << "fast mode: autocast's";
  at::autocast::set_cpu_enabled(false);
  auto unpadded_taps = taps;
  unpadded_taps.padding = {0};
  EXPECT_FALSE(unpadded_taps.glu_in_one_pass(sequence)) << "no padding";
}

// Fast mode (autocast) runs the transposed and large 3x3 convolutions on the engine's kernels
// with bfloat16 factors and float32 sums, and the 1x1 ones there in float32, whatever the
// input's type, and returns float32; the others (strided, small 3x3) are autocast's, in bfloat16.
TEST(EngineKernels, FastModeConvolutionsTakeBfloat16FactorsWithFloat32Sums) {
  c10::InferenceMode guard;
  at::manual_seed(5);
  auto conv = [](at::Tensor weight, std::vector<int64_t> stride, std::vector<int64_t> padding,
                 bool transposed) {
    demucs::Conv c;
    c.weight = weight.to(at::kHalf);  // stored as the checkpoints store it
    c.bias = at::randn({transposed ? weight.size(1) : weight.size(0)});
    c.stride = stride;
    c.padding = padding;
    c.dilation = std::vector<int64_t>(stride.size(), 1);
    c.transposed = transposed;
    return c;
  };
  auto pointwise = conv(at::randn({16, 8, 1, 1}), {1, 1}, {0, 0}, false);
  auto transposed = conv(at::randn({8, 16, 8, 1}), {4, 1}, {0, 0}, true);
  auto large = conv(at::randn({16, 8, 3, 3}) * 0.2, {1, 1}, {1, 1}, false);
  auto strided = conv(at::randn({16, 8, 8, 1}), {4, 1}, {2, 0}, false);
  auto x = at::randn({1, 8, 32, 40}), big = at::randn({1, 8, 64, 128});  // 2048 blocks of 2x2
  auto exact_large = large(big);
  at::autocast::set_cpu_enabled(true);
  auto fast_pointwise = pointwise(x), fast_transposed = transposed(x);
  auto from_bf16 = transposed(x.to(at::kBFloat16));
  auto fast_large = large(big), small = large(x), fast_strided = strided(x);
  bool still_on = at::autocast::is_cpu_enabled();
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  EXPECT_TRUE(still_on) << "fast mode must be back on after the convolution";
  for (const auto* y : {&fast_pointwise, &fast_transposed, &from_bf16})
    EXPECT_EQ(y->scalar_type(), at::kFloat);
  EXPECT_EQ(small.scalar_type(), at::kBFloat16) << "a 3x3 too small for Winograd is autocast's";
  EXPECT_EQ(fast_strided.scalar_type(), at::kBFloat16) << "strided convolutions are autocast's";
  auto stored = [](const demucs::Conv& c) { return c.weight.to(at::kFloat); };
  EXPECT_GT(snr_db(fast_pointwise, at::conv2d(x, stored(pointwise), pointwise.bias)), 120.0)
      << "1x1 convolutions: the exact mode's arithmetic";
  if (!demucs::bf16_products_available()) {  // float32, and the large 3x3 is autocast's
    auto exact_transposed = at::conv_transpose2d(x, stored(transposed), transposed.bias, {4, 1});
    EXPECT_GT(snr_db(fast_transposed, exact_transposed), 120.0);
    EXPECT_GT(snr_db(from_bf16,
                     at::conv_transpose2d(bf16(x), stored(transposed), transposed.bias, {4, 1})),
              120.0);
    EXPECT_EQ(fast_large.scalar_type(), at::kBFloat16);
    return;
  }
  auto transposed_expected =
      conv_in_bf16_factors(x, stored(transposed), transposed.bias, {4, 1}, true);
  EXPECT_GT(snr_db(fast_transposed, transposed_expected), 100.0);
  EXPECT_GT(snr_db(from_bf16, transposed_expected), 100.0) << "the same rounding";
  EXPECT_EQ(fast_large.scalar_type(), at::kFloat);
  EXPECT_GT(snr_db(fast_large, exact_large), 40.0) << "Winograd from bfloat16 factors";
  EXPECT_LT(snr_db(fast_large, exact_large), 80.0) << "fast mode did not reach the kernel";
}

// Each tiling's transforms on their own, on any CPU: U = G g G^T, V = B^T d B, A^T (U . V) A is
// the block's correlation with the kernel (as a convolution layer computes it), within float32
// rounding of the transforms' sums.
template <class Tiles>
void check_tiles_correlate(int seed) {
  constexpr int M = Tiles::M, N = Tiles::N, blocks = 3;
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  float g[9];
  for (float& k : g) k = normal(random);
  std::vector<float> u(N * N);
  Tiles::weight(g, 1, u.data(), 1);
  // N rows of input, M * blocks + 2 wide: rows[a][0] is column -1 of the blocks.
  std::vector<std::vector<float>> input(N, std::vector<float>(M * blocks + 2));
  for (auto& row : input)
    for (float& value : row) value = normal(random);
  const float* rows[N];
  for (int a = 0; a < N; ++a) rows[a] = input[a].data();
  std::vector<float> v(N * N * blocks), m(N * N * blocks);
  Tiles::input(rows, blocks, v.data(), blocks);
  for (int k = 0; k < N * N; ++k)
    for (int t = 0; t < blocks; ++t) m[k * blocks + t] = u[k] * v[k * blocks + t];
  std::vector<std::vector<float>> output(M, std::vector<float>(M * blocks));
  float* y[M];
  for (int i = 0; i < M; ++i) y[i] = output[i].data();
  Tiles::output(m.data(), blocks, blocks, 0.5f, y);
  for (int i = 0; i < M; ++i)
    for (int x = 0; x < M * blocks; ++x) {
      double expected = 0.5, scale = 0;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
          double term = double(g[a * 3 + b]) * input[i + a][x + b];
          expected += term, scale += std::abs(term);
        }
      EXPECT_NEAR(output[i][x], expected, 2e-5 * scale)
          << "M " << M << " row " << i << " column " << x;
    }
}

// F(4, 3) along one axis: a row of blocks correlated with a 3-tap kernel.
void check_row_tiles_correlate(int seed) {
  using demucs::winograd::F4Row;
  constexpr int blocks = 3;
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  float g[3];
  for (float& k : g) k = normal(random);
  std::vector<float> u(F4Row::N), row(F4Row::M * blocks + 2), v(F4Row::N * blocks),
      m(F4Row::N * blocks), y(F4Row::M * blocks);
  for (float& value : row) value = normal(random);
  F4Row::weight(g, 1, u.data(), 1);
  F4Row::input(row.data(), blocks, v.data(), blocks);
  for (int k = 0; k < F4Row::N; ++k)
    for (int t = 0; t < blocks; ++t) m[k * blocks + t] = u[k] * v[k * blocks + t];
  F4Row::output(m.data(), blocks, blocks, -0.25f, y.data());
  for (int x = 0; x < F4Row::M * blocks; ++x) {
    double expected = -0.25, scale = 0;
    for (int k = 0; k < 3; ++k) {
      double term = double(g[k]) * row[x + k];
      expected += term, scale += std::abs(term);
    }
    EXPECT_NEAR(y[x], expected, 2e-5 * scale) << "position " << x;
  }
}

TEST(EngineKernels, WinogradTilingsCorrelateABlockWithTheKernel) {
  for (int seed = 0; seed < 20; ++seed) {
    check_tiles_correlate<demucs::winograd::F2x2>(seed);
    check_tiles_correlate<demucs::winograd::F4x4>(seed);
    check_row_tiles_correlate(seed);
  }
}

// A convolution's input shape, and whether it has a bias.
struct ConvCase {
  std::vector<int64_t> input;
  bool bias;
};

// The exact mode's 3-tap convolutions along one axis (the time decoders' rewrites) by F(4, 3),
// with and without the GLU after them; what they refuse goes to ATen.
TEST(EngineKernels, Winograd3TapConvolutionsMatchAten) {
  c10::InferenceMode guard;
  at::manual_seed(13);
  // htdemucs' innermost and outer time decoders (shortened), a length that ends inside a block
  // and inside an item, a batch of two, a few channels, no bias.
  for (const auto& c : std::vector<ConvCase>{{{1, 384, 1344}, true},
                                             {{1, 48, 5000}, true},
                                             {{2, 96, 2063}, true},
                                             {{1, 5, 257}, true},
                                             {{1, 16, 1030}, false}}) {
    int64_t ci = c.input[1];
    auto x = at::randn(c.input), w = at::randn({2 * ci, ci, 3}) / std::sqrt(3.0 * ci);
    auto b = c.bias ? at::randn({2 * ci}) : at::Tensor();
    auto mine = demucs::winograd_conv3tap(x, w, b);
    ASSERT_EQ(mine.has_value(), demucs::f32_products_available()) << x.sizes();
    if (!mine) continue;
    auto exact =
        at::conv1d(x.to(at::kDouble), w.to(at::kDouble), b.defined() ? b.to(at::kDouble) : b, 1, 1);
    ASSERT_EQ(mine->sizes(), exact.sizes());
    // ATen's float32 convolution reaches about 140 dB here.
    EXPECT_GT(snr_db(*mine, exact), 115.0) << x.sizes();
    auto routed = demucs::conv_cpu(x, w, b, {1}, {1}, {1}, false);
    ASSERT_TRUE(routed);
    EXPECT_TRUE(at::equal(*routed, *mine)) << "conv_cpu hands the exact mode's 3-tap ones over";
    auto gated = demucs::winograd_conv3tap_glu(x, w, b);
    ASSERT_TRUE(gated) << x.sizes();
    EXPECT_TRUE(at::allclose(*gated, at::glu(*mine, 1), 1e-5, 1e-6)) << x.sizes();
    EXPECT_GT(snr_db(*gated, at::glu(exact, 1)), 115.0) << x.sizes();
  }
  if (!demucs::f32_products_available()) return;
  auto x = at::randn({1, 8, 1000}), w = at::randn({16, 8, 3});
  EXPECT_FALSE(demucs::winograd_conv3tap(at::randn({1, 8, 255}), w, {})) << "too short to pay";
  EXPECT_FALSE(demucs::winograd_conv3tap(x.to(at::kDouble), w, {}));
  EXPECT_FALSE(demucs::winograd_conv3tap(x, at::randn({16, 8, 5}), {}));
  EXPECT_FALSE(demucs::winograd_conv3tap(x, at::randn({0, 8, 3}), {})) << "no output channels";
  EXPECT_FALSE(demucs::winograd_conv3tap(at::randn({1, 0, 1000}), at::randn({16, 0, 3}), {}));
  // Transformed kernels past 24 MB (6 points of 1100 x 1000): ATen's, not 26 MB more memory.
  EXPECT_FALSE(demucs::winograd_conv3tap(at::zeros({1, 1, 256}).expand({1, 1000, 256}),
                                         at::zeros({1100, 1000, 3}), {}));
  EXPECT_FALSE(demucs::winograd_conv3tap(x, w, at::randn({15}))) << "a bias of the wrong length";
  EXPECT_FALSE(demucs::winograd_conv3tap_glu(x, at::randn({15, 8, 3}), {}))
      << "the GLU halves an even number of channels";
  EXPECT_FALSE(demucs::is_plain_3tap(w, {2}, {1}, {1}));
  EXPECT_FALSE(demucs::is_plain_3tap(w, {1}, {0}, {1}));
  EXPECT_FALSE(demucs::is_plain_3tap(w, {1}, {1}, {2}));
  EXPECT_TRUE(demucs::is_plain_3tap(w, {}, {1}, {}));
  auto strided = demucs::conv_cpu(x, w, {}, {2}, {1}, {1}, false);
  EXPECT_TRUE(!strided || at::allclose(*strided, at::conv1d(x, w, {}, 2, 1), 1e-4, 1e-4));
  at::autocast::set_cpu_enabled(true);
  EXPECT_FALSE(demucs::winograd_conv3tap(x, w, {})) << "fast mode";
  at::autocast::set_cpu_enabled(false);
  EXPECT_FALSE(demucs::conv_cpu(x, w, {}, {1}, {1}, {1}, false, true)) << "fast mode: autocast's";
}

TEST(EngineKernels, Winograd3x3ConvolutionsMatchAten) {
  c10::InferenceMode guard;
  at::manual_seed(11);
  // The decoders' rewrite shapes (narrower in time: several rows of blocks per work item; 336
  // wide: one row each, as in the model), odd sizes whose last 2x2 blocks hang over the image's
  // bottom or right edge, a batch of two, no bias.
  for (const auto& c : std::vector<ConvCase>{{{1, 48, 512, 24}, true},
                                             {{1, 96, 128, 64}, true},
                                             {{1, 48, 32, 336}, true},
                                             {{2, 5, 101, 83}, true},
                                             {{1, 16, 101, 84}, true},
                                             {{1, 7, 128, 65}, false},
                                             // F(4x4)'s kernels past 24 MB: in three parts,
                                             // the last one shorter (287, 287, 286 channels)
                                             {{1, 430, 8, 256}, true}}) {
    int64_t ci = c.input[1];
    // Scaled as a trained layer's are, outputs of about 1: the GLU's sigmoid is not saturated.
    auto x = at::randn(c.input), w = at::randn({2 * ci, ci, 3, 3}) / std::sqrt(9.0 * ci);
    auto b = c.bias ? at::randn({2 * ci}) : at::Tensor();
    auto mine = demucs::conv_cpu(x, w, b, {1, 1}, {1, 1}, {1, 1}, false);
    ASSERT_TRUE(mine) << x.sizes();
    auto reference = at::conv2d(x, w, b, 1, 1);
    ASSERT_EQ(mine->sizes(), reference.sizes());
    // Against a double precision convolution: ATen's float32 one reaches 134-141 dB here, F2x2
    // 127-141 (measured on the float32 kernel; it runs on BLAS where the CPU lacks AVX-512F),
    // F4x4 (the exact mode on AVX-512F) 110-125, its transforms multiplying inputs by up to 8.
    auto exact =
        at::conv2d(x.to(at::kDouble), w.to(at::kDouble), b.defined() ? b.to(at::kDouble) : b, 1, 1);
    double floor_db = demucs::f32_products_available() ? 105.0 : 120.0;
    EXPECT_GT(snr_db(*mine, exact), floor_db) << x.sizes();
    EXPECT_GT(snr_db(*mine, reference), floor_db) << x.sizes();
    // With the decoders' GLU in the same pass: the same sums, then exp_cpu.h's sigmoid.
    auto gated = demucs::winograd_conv3x3_glu(x, w, b);
    ASSERT_TRUE(gated) << x.sizes();
    EXPECT_TRUE(at::allclose(*gated, at::glu(*mine, 1), 1e-5, 1e-6)) << x.sizes();
    EXPECT_GT(snr_db(*gated, at::glu(exact, 1)), floor_db) << x.sizes();
    // Fast mode: the transforms' bfloat16 rounding costs at most 6 dB against a direct
    // convolution's (measured 4.5-4.8 dB on these shapes), and some rounding is seen.
    if (!demucs::bf16_products_available()) continue;
    auto rounded = demucs::conv_cpu(x, w, b, {1, 1}, {1, 1}, {1, 1}, false, true);
    if (x.size(2) * x.size(3) < 8192) {  // F(2x2) from bfloat16 factors does not pay there
      EXPECT_FALSE(rounded) << x.sizes();
      continue;
    }
    ASSERT_TRUE(rounded) << x.sizes();
    auto direct = at::conv2d(bf16(x).to(at::kDouble), bf16(w).to(at::kDouble),
                             b.defined() ? b.to(at::kDouble) : b, 1, 1);
    double rounded_snr = snr_db(*rounded, reference), direct_snr = snr_db(direct, reference);
    std::cout << "fast Winograd " << x.sizes() << ": " << rounded_snr << " dB, direct from "
              << "bfloat16 factors " << direct_snr << " dB\n";
    EXPECT_GT(rounded_snr, direct_snr - 6.0) << x.sizes();
    EXPECT_LT(rounded_snr, 80.0) << x.sizes();
    auto rounded_gated = demucs::winograd_conv3x3_glu(x, w, b, true);
    ASSERT_TRUE(rounded_gated) << x.sizes();
    EXPECT_TRUE(at::allclose(*rounded_gated, at::glu(*rounded, 1), 1e-5, 1e-6)) << x.sizes();
  }
  // The innermost decoder's 8 x 336 (672 blocks a channel) pays on the float32 kernel (the
  // exact mode, where the CPU has AVX-512F: point 32) and not from bfloat16 factors; 8 x 64
  // pays on neither. Too few blocks, another padding, a stride: ATen's.
  auto w = at::randn({8, 4, 3, 3});
  auto innermost = at::randn({1, 4, 8, 336});
  auto taken = demucs::winograd_conv3x3(innermost, w, {});
  EXPECT_EQ(taken.has_value(), demucs::f32_products_available());
  if (taken) {
    EXPECT_GT(snr_db(*taken, at::conv2d(innermost, w, {}, 1, 1)), 110.0);
  }
  EXPECT_EQ(demucs::winograd_conv3x3_glu(innermost, w, {}).has_value(),
            demucs::f32_products_available());
  if (demucs::bf16_products_available()) {
    EXPECT_FALSE(demucs::winograd_conv3x3(innermost, w, {}, true));
  }
  EXPECT_FALSE(demucs::winograd_conv3x3(at::randn({1, 4, 8, 64}), w, {}));
  EXPECT_FALSE(demucs::winograd_conv3x3_glu(at::randn({1, 4, 8, 64}), w, {}));
  EXPECT_FALSE(
      demucs::winograd_conv3x3_glu(at::randn({1, 4, 200, 100}), at::randn({7, 4, 3, 3}), {}))
      << "the GLU halves an even number of channels";
  EXPECT_FALSE(demucs::conv_cpu(at::randn({1, 4, 200, 100}), w, {}, {1, 1}, {0, 0}, {1, 1}, false));
  EXPECT_FALSE(demucs::conv_cpu(at::randn({1, 4, 200, 100}), w, {}, {2, 2}, {1, 1}, {1, 1}, false));
  EXPECT_FALSE(demucs::conv_cpu(at::randn({1, 4, 200, 100}), w, {}, {1, 1}, {1, 1}, {2, 2}, false));
  EXPECT_FALSE(demucs::winograd_conv3x3(at::randn({1, 4, 200, 100}, at::kDouble), w, {}));
  EXPECT_FALSE(demucs::winograd_conv3x3(at::randn({1, 0, 64, 64}), at::randn({16, 0, 3, 3}), {}))
      << "no input channels: ATen's";
  EXPECT_FALSE(demucs::winograd_conv3x3(at::randn({1, 4, 64, 64}), at::randn({0, 4, 3, 3}), {}));
  at::autocast::set_cpu_enabled(true);
  EXPECT_FALSE(demucs::winograd_conv3x3(at::randn({1, 4, 200, 100}), w, {})) << "fast mode";
  at::autocast::set_cpu_enabled(false);
}

TEST(EngineKernels, TransposedConvolutionsOverlapAddLikeAten) {
  c10::InferenceMode guard;
  at::manual_seed(5);
  // The decoders' shapes: kernel 8, stride 4 along frequency or time; also kernel == stride.
  struct Case {
    std::vector<int64_t> input, weight, stride;
  };
  for (const auto& c : std::vector<Case>{{{1, 6, 40, 30}, {6, 4, 8, 1}, {4, 1}},
                                         {{2, 6, 9, 7}, {6, 3, 4, 1}, {4, 1}},
                                         {{1, 6, 3000}, {6, 5, 8}, {4}},
                                         {{1, 384, 8, 20}, {384, 192, 8, 1}, {4, 1}},
                                         // 4 input rows a chunk: 16 chunks, both parity passes
                                         // and a partial last chunk
                                         {{1, 48, 63, 336}, {48, 24, 8, 1}, {4, 1}}}) {
    auto x = at::randn(c.input), w = at::randn(c.weight), b = at::randn({c.weight[1]});
    auto mine = demucs::conv_cpu(x, w, b, c.stride, {}, {}, true);
    ASSERT_TRUE(mine);
    auto reference = x.dim() == 4 ? at::conv_transpose2d(x, w, b, c.stride)
                                  : at::conv_transpose1d(x, w, b, c.stride);
    ASSERT_EQ(mine->sizes(), reference.sizes());
    EXPECT_GT(snr_db(*mine, reference), 120.0) << x.sizes();
    if (!demucs::bf16_products_available()) continue;
    auto rounded = demucs::conv_cpu(x, w, b, c.stride, {}, {}, true, true);
    ASSERT_TRUE(rounded);
    EXPECT_GT(snr_db(*rounded, conv_in_bf16_factors(x, w, b, c.stride, true)), 100.0) << x.sizes();
  }
  auto x = at::randn({1, 6, 10});
  EXPECT_FALSE(demucs::conv_cpu(x, at::randn({6, 4, 12}), {}, {4}, {}, {}, true))
      << "a kernel over twice the stride is ATen's";
}

TEST(EngineKernels, AttentionByBlocksMatchesBmmSoftmaxBmm) {
  c10::InferenceMode guard;
  at::manual_seed(13);
  // Self and cross attention, query counts that do not fill the last block (600: three blocks of
  // 256 rows, the last one partial), two batch items; heads 8 wide, and 9 (odd: fast mode pads
  // the depth of its products with a zero).
  for (auto [B, Tq, Tk, C] :
       std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{{1, 200, 200, 32},
                                                                   {2, 70, 130, 32},
                                                                   {1, 1, 9, 32},
                                                                   {2, 600, 300, 32},
                                                                   {2, 70, 45, 36}}) {
    int64_t heads = 4, d = C / heads;
    auto q = at::randn({B, Tq, C}) * 0.5, k = at::randn({B, Tk, C}), v = at::randn({B, Tk, C});
    if (Tq == 200) q *= 40;  // scores 100 and more apart: weights that underflow to 0
    auto mine = demucs::attention_cpu(q, k, v, heads);
    ASSERT_TRUE(mine);
    auto split = [&](const at::Tensor& t) { return t.view({B, -1, heads, d}).transpose(1, 2); };
    auto probabilities = at::softmax(at::matmul(split(q), split(k).transpose(-2, -1)), -1);
    auto reference = at::matmul(probabilities, split(v)).transpose(1, 2).reshape({B, Tq, C});
    ASSERT_EQ(mine->sizes(), reference.sizes());
    EXPECT_GT(snr_db(*mine, reference), 120.0) << Tq << "x" << Tk;
    // Fast mode: bfloat16 factors with float32 sums (float32 where the CPU lacks AVX-512 BF16).
    auto rounded = demucs::attention_cpu(q, k, v, heads, true);
    ASSERT_TRUE(rounded);
    double snr = snr_db(*rounded, reference);
    if (demucs::bf16_products_available()) {
      // The scores 100 apart lose the most: their rounding moves the sharp weights.
      EXPECT_GT(snr, 25.0) << Tq << "x" << Tk;
      EXPECT_LT(snr, 80.0) << "no rounding seen: the float32 products ran";
      EXPECT_GT(snr_db(*rounded, attention_in_bf16_factors(q, k, v, heads)), 90.0)
          << Tq << "x" << Tk << ": not bfloat16 factors with float32 sums";
    } else {
      EXPECT_GT(snr, 120.0) << Tq << "x" << Tk;
    }
  }
  // Heads read in place from a wider tensor (the columns of one projection among several).
  int64_t heads = 4, C = 32;
  auto qkv = at::randn({1, 100, 3 * C});
  auto q = qkv.slice(2, 0, C), k = qkv.slice(2, C, 2 * C), v = qkv.slice(2, 2 * C);
  for (bool bf16_products : {false, true}) {
    auto strided = demucs::attention_cpu(q, k, v, heads, bf16_products);
    auto packed =
        demucs::attention_cpu(q.contiguous(), k.contiguous(), v.contiguous(), heads, bf16_products);
    ASSERT_TRUE(strided && packed);
    EXPECT_GT(snr_db(*strided, *packed), 120.0) << "bfloat16 products: " << bf16_products;
  }
  at::autocast::set_cpu_enabled(true);
  bool under_autocast = demucs::attention_cpu(q, k, v, heads).has_value();
  bool autocast_left_out = [&] {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
    return demucs::attention_cpu(q, k, v, heads).has_value();
  }();
  at::autocast::set_cpu_enabled(false);
  EXPECT_FALSE(under_autocast) << "under autocast, bfloat16 products are ATen's";
  EXPECT_TRUE(autocast_left_out) << "fast mode's float32 attention takes the own kernel";
}

// DConv's GLU sigmoid (exp_cpu.h) against double precision over the whole float range it may
// meet, the tails and the special values included: a few ulp where the value is a normal float,
// 0 below -87 (true value under 1.7e-38), 1 far right, NaN kept.
TEST(EngineKernels, SigmoidMatchesDoublePrecision) {
  double worst = 0;
  for (double x = -120; x <= 120; x += 0.0137) {
    float got = demucs::sigmoid(static_cast<float>(x));
    double want = 1 / (1 + std::exp(-static_cast<double>(static_cast<float>(x))));
    if (x < -87.0) {
      EXPECT_EQ(got, 0.0f) << x;
      continue;
    }
    worst = std::max(worst, std::abs(got - want) / want);
  }
  EXPECT_LT(worst, 4e-7) << "relative error, a few float ulp";
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(demucs::sigmoid(inf), 1.0f);
  EXPECT_EQ(demucs::sigmoid(-inf), 0.0f);
  EXPECT_EQ(demucs::sigmoid(0.0f), 0.5f);
  EXPECT_EQ(demucs::sigmoid(-0.0f), 0.5f);
  EXPECT_TRUE(std::isnan(demucs::sigmoid(std::numeric_limits<float>::quiet_NaN())));
}

// Fast mode's GELU (exp_cpu.h) against x Phi(x) in double precision: within the formula's 2.2e-7
// and a float ulp of the result over the range the feed-forward layers meet and past it, x
// itself far right, 0 far left, NaN kept.
TEST(EngineKernels, GeluMatchesDoublePrecision) {
  double worst = 0;
  for (double x = -30; x <= 30; x += 0.00071) {
    float in = static_cast<float>(x);
    double want = 0.5 * in * std::erfc(-in / std::sqrt(2.0));
    double ulp = std::abs(want) * std::numeric_limits<float>::epsilon();
    worst = std::max(worst, std::abs(demucs::gelu(in) - want) - ulp);
  }
  EXPECT_LT(worst, 2.5e-7) << "absolute error past a float ulp";
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(demucs::gelu(inf), inf);
  EXPECT_EQ(demucs::gelu(30.0f), 30.0f);
  EXPECT_EQ(demucs::gelu(-14.0f), 0.0f);
  EXPECT_EQ(demucs::gelu(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(demucs::gelu(std::numeric_limits<float>::quiet_NaN())));
}

// The softmax's exp (exp_cpu.h) against double precision, across the range it is given
// (x - max <= 0) and past where float32 underflows: each query row scores two keys, x and 0, so
// the first key's weight is exp(x) / (exp(x) + 1), which one value column of 1 and 0 reads out.
TEST(EngineKernels, AttentionWeightsMatchDoublePrecision) {
  c10::InferenceMode guard;
  auto x = at::linspace(-120, 0, 4097);
  auto q = x.view({1, -1, 1});
  auto k = at::tensor({1.0f, 0.0f}).view({1, 2, 1}), v = k.clone();
  auto weights = demucs::attention_cpu(q, k, v, 1);
  ASSERT_TRUE(weights);
  auto expected = at::sigmoid(x.to(at::kDouble));
  auto got = weights->view({-1}).to(at::kDouble);
  for (int64_t i = 0; i < x.size(0); ++i) {
    double want = expected[i].item<double>(), have = got[i].item<double>();
    if (x[i].item<float>() < -87)  // under 1.7e-38: flushed to 0
      EXPECT_EQ(have, 0.0) << "at x = " << x[i].item<float>();
    else  // 4 ulp: the exp's own error, the sum's and the division's
      EXPECT_NEAR(have, want, want * 5e-7) << "at x = " << x[i].item<float>();
  }
  // A score of +inf or NaN makes its row NaN, as ATen's softmax does.
  float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  auto odd = demucs::attention_cpu(at::tensor({inf, nan, -1.0f}).view({1, 3, 1}), k, v, 1);
  ASSERT_TRUE(odd);
  auto rows = odd->view({-1});
  EXPECT_TRUE(std::isnan(rows[0].item<float>()) && std::isnan(rows[1].item<float>())) << rows;
  EXPECT_NEAR(rows[2].item<float>(), 1 / (1 + std::exp(1.0)), 1e-7) << "other rows untouched";
}

// Fast mode's attention module: projections and products with bfloat16 factors and float32 sums
// (where the CPU has AVX-512 BF16), bfloat16 from the output projection on. Against the exact
// module it is closer than the same attention through autocast whole, whose bfloat16 products
// also round the queries, keys and scores themselves.
TEST(EngineKernels, FastModeAttentionSumsInFloat32) {
  c10::InferenceMode guard;
  at::manual_seed(21);
  int64_t T = 300, C = 64, heads = 4, d = C / heads;
  demucs::Attention attention;
  attention.in_weight = at::randn({3 * C, C}) * 0.3;
  attention.in_bias = at::randn({3 * C}) * 0.1;
  attention.out = {at::randn({C, C}) * 0.1, at::randn({C}) * 0.1};
  attention.heads = heads;
  auto x = at::randn({1, T, C});
  auto exact = attention(x, x);
  auto whole = [&] {  // what autocast alone does with the official arithmetic
    auto qkv = at::linear(x, attention.in_weight, attention.in_bias).chunk(3, -1);
    auto split = [&](const at::Tensor& t) { return t.view({1, T, heads, d}).transpose(1, 2); };
    auto scores = at::matmul(split(qkv[0]) / std::sqrt(double(d)), split(qkv[1]).transpose(-2, -1));
    auto y = at::matmul(at::softmax(scores, -1), split(qkv[2])).transpose(1, 2).reshape({1, T, C});
    return at::linear(y, attention.out.weight, attention.out.bias);
  };
  auto exact_core = attention.attend(x, x);
  at::autocast::set_cpu_enabled(true);
  auto fast = attention(x, x);
  auto fast_core = attention.attend(x, x);  // up to the output projection
  auto all_bfloat16 = whole();
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  // The output projection (Linear) takes bfloat16 factors with a float32 output where the CPU
  // has AVX-512 BF16, else it is autocast's.
  EXPECT_EQ(fast.scalar_type(), demucs::bf16_products_available() ? at::kFloat : at::kBFloat16);
  EXPECT_EQ(all_bfloat16.scalar_type(), at::kBFloat16);
  double fast_snr = snr_db(fast.to(at::kFloat), exact);
  double whole_snr = snr_db(all_bfloat16.to(at::kFloat), exact);
  std::cout << "fast mode attention: " << fast_snr
            << " dB from exact; all in bfloat16: " << whole_snr << " dB\n";
  EXPECT_GT(fast_snr, whole_snr + 2.0);
  // The module hands fast mode on to the kernels: bfloat16 factors, float32 sums, where the CPU
  // has AVX-512 BF16; float32 elsewhere.
  EXPECT_EQ(fast_core.scalar_type(), at::kFloat);
  // Cross-attention too: queries from one stream, keys and values from another (shorter) one.
  auto other = at::randn({1, T / 2, C});
  auto exact_cross = attention.attend(x, other);
  at::autocast::set_cpu_enabled(true);
  auto fast_cross = attention.attend(x, other);
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  if (demucs::bf16_products_available()) {
    auto w = bf16(attention.in_weight);
    auto qkv = at::linear(bf16(x), w, attention.in_bias).chunk(3, -1);
    auto emulated = attention_in_bf16_factors(qkv[0] / std::sqrt(double(d)), qkv[1], qkv[2], heads);
    EXPECT_GT(snr_db(fast_core, emulated), 90.0) << "not bfloat16 factors with float32 sums";
    EXPECT_LT(snr_db(fast_core, exact_core), 80.0) << "fast mode did not reach the kernels";
    auto query = at::linear(bf16(x), w.slice(0, 0, C), attention.in_bias.slice(0, 0, C));
    auto kv = at::linear(bf16(other), w.slice(0, C), attention.in_bias.slice(0, C)).chunk(2, -1);
    auto emulated_cross =
        attention_in_bf16_factors(query / std::sqrt(double(d)), kv[0], kv[1], heads);
    EXPECT_GT(snr_db(fast_cross, emulated_cross), 90.0) << "cross-attention's projections";
    auto out = at::linear(bf16(fast_core), bf16(attention.out.weight), attention.out.bias);
    EXPECT_GT(snr_db(fast, out), 90.0) << "the output projection's factors or sums";
  } else {
    EXPECT_GT(snr_db(fast_core, exact_core), 120.0);
    EXPECT_GT(snr_db(fast_cross, exact_cross), 120.0);
  }
}

// MyGroupNorm (one group over a (B, T, C) stream's tokens and channels) as the official code
// computes it, transposed to (B, C, T) for nn.GroupNorm and back; the engine's own keeps the
// tokens' layout, so the stream after it is contiguous (later norms need not copy it).
TEST(EngineKernels, TokenGroupNormMatchesTheTransposedGroupNormAndKeepsTheLayout) {
  c10::InferenceMode guard;
  at::manual_seed(17);
  int64_t B = 2, C = 16;
  demucs::TokenNorm norm;
  norm.group = true;
  norm.group_norm.weight = 1 + at::randn({C}) * 0.3;
  norm.group_norm.bias = at::randn({C}) * 0.3;
  // One block of tokens, and several with a short last one (the statistics summed over blocks).
  for (int64_t T : {50, 333}) {
    // A transposed stream, as it comes; each batch item with statistics of its own.
    auto spread = at::arange(1, B + 1, at::kFloat).view({B, 1, 1});
    auto tokens = at::randn({B, C, T}).transpose(1, 2) * 3 * spread + spread;
    for (const auto& x : {tokens, tokens.contiguous()}) {
      auto mine = norm(x);
      auto official =
          at::group_norm(x.transpose(1, 2), 1, norm.group_norm.weight, norm.group_norm.bias, 1e-5)
              .transpose(1, 2);
      ASSERT_EQ(mine.sizes(), official.sizes());
      EXPECT_GT(snr_db(mine, official), 110.0) << T << " tokens";
      EXPECT_TRUE(mine.is_contiguous()) << "the stream's layout after the norm";
      auto own =
          demucs::token_group_norm_cpu(x, norm.group_norm.weight, norm.group_norm.bias, 1e-5);
      ASSERT_TRUE(own.has_value()) << "the engine's own norm takes float32 tokens";
      EXPECT_GT(snr_db(*own, official), 110.0) << T << " tokens";
    }
  }
  // What it leaves to ATen: other shapes and types, weights of another width.
  auto x = at::randn({1, 10, C});
  const auto& w = norm.group_norm.weight;
  const auto& b = norm.group_norm.bias;
  EXPECT_FALSE(demucs::token_group_norm_cpu(x.to(at::kDouble), w, b, 1e-5));
  EXPECT_FALSE(demucs::token_group_norm_cpu(x[0], w, b, 1e-5));
  EXPECT_FALSE(demucs::token_group_norm_cpu(at::randn({1, 0, C}), w, b, 1e-5));
  EXPECT_FALSE(demucs::token_group_norm_cpu(x, w.slice(0, 0, C - 1), b, 1e-5));
  EXPECT_FALSE(demucs::token_group_norm_cpu(x, w, b.to(at::kHalf), 1e-5));
}

// Each signal's spectrogram has the bits of at::stft on that signal alone (the threads take one
// signal each), and the whole has the layout ATen's batched call returns.
TEST(EngineKernels, SpectrogramsOfSeveralSignalsMatchTheirOwnStft) {
  c10::InferenceMode guard;
  at::manual_seed(23);
  ThreadCount threads(2);
  auto stft = [](const at::Tensor& signals) {
    return at::stft(signals, 4096, 1024, 4096, at::hann_window(4096), true, "reflect", true,
                    c10::nullopt, true);
  };
  for (auto shape : {std::vector<int64_t>{1, 2, 44100}, std::vector<int64_t>{2, 2, 10000},
                     std::vector<int64_t>{1, 3, 5000}, std::vector<int64_t>{1, 1, 5000}}) {
    auto x = at::randn(shape);
    auto flat = x.reshape({-1, shape.back()});
    auto mine = demucs::spectro(x, 4096, 1024);
    ASSERT_EQ(mine.dim(), 4);
    auto batched = stft(flat);
    auto signals = mine.reshape({-1, mine.size(2), mine.size(3)});
    ASSERT_EQ(signals.sizes(), batched.sizes());
    // ATen's layout: [signals, frames, bins] in memory, transposed.
    EXPECT_TRUE(batched.transpose(1, 2).is_contiguous());
    EXPECT_TRUE(signals.transpose(1, 2).is_contiguous()) << "the layout of ATen's batched call";
    EXPECT_GT(snr_db(at::view_as_real(signals), at::view_as_real(batched)), 120.0);
    for (int64_t i = 0; i < flat.size(0); ++i)
      EXPECT_TRUE(at::equal(signals[i], stft(flat.narrow(0, i, 1))[0]))
          << "signal " << i << " of " << shape[0] << " x " << shape[1];
  }
}

TEST(EngineKernels, OwnLoopsRunOnEveryThread) {
  // Without OpenMP in the engine's build, at::parallel_for there runs on one thread, silently.
  ThreadCount threads(2);
  EXPECT_EQ(demucs::parallel_loop_threads(), 2);
}

// parallel_items: every item exactly once, whatever the threads, fewer items than threads, inside
// another parallel loop; a thrown exception reaches the caller.
TEST(EngineKernels, ParallelItemsRunEachItemOnce) {
  ThreadCount restored(at::get_num_threads());  // the loops below change it
  for (int threads : {1, 2, 8}) {
    at::set_num_threads(threads);
    for (int64_t items : {0, 1, 3, 100}) {
      std::vector<std::atomic<int>> runs(items);
      demucs::parallel_items<demucs::NoState>(items,
                                              [&](demucs::NoState&, int64_t i) { ++runs[i]; });
      for (int64_t i = 0; i < items; ++i)
        EXPECT_EQ(runs[i], 1) << threads << " threads, item " << i;
    }
  }
  std::vector<std::atomic<int>> nested(40);
  at::parallel_for(0, 4, 1, [&](int64_t begin, int64_t end) {
    for (int64_t part = begin; part < end; ++part)
      demucs::parallel_items<demucs::NoState>(
          10, [&](demucs::NoState&, int64_t i) { ++nested[part * 10 + i]; });
  });
  for (auto& n : nested) EXPECT_EQ(n, 1) << "inside another parallel loop";
  EXPECT_THROW(demucs::parallel_items<demucs::NoState>(50,
                                                       [](demucs::NoState&, int64_t i) {
                                                         if (i == 17)
                                                           throw std::runtime_error("item 17");
                                                       }),
               std::runtime_error);
}

// The kernels whose items parallel_items shares give the same bits on 1 thread and on 4 or 8
// (more threads than cores: the items land on threads differently from run to run). The 12
// rows of DConv's input are fewer than two per thread on 8: its path must not change with that.
TEST(EngineKernels, OwnKernelsGiveTheSameBitsOnAnyNumberOfThreads) {
  c10::InferenceMode guard;
  at::manual_seed(21);
  auto transposed_in = at::randn({1, 48, 63, 336}), transposed_w = at::randn({48, 24, 8, 1});
  // Several work items each (8 rows of blocks a thread can take, 6 runs of 1-D blocks).
  auto winograd_in = at::randn({1, 64, 64, 128}), winograd_w = at::randn({128, 64, 3, 3}) * 0.05;
  auto taps_in = at::randn({2, 16, 20001}), taps_w = at::randn({32, 16, 3}) * 0.2;
  auto q = at::randn({1, 600, 64}), k = at::randn({1, 500, 64}), v = at::randn({1, 500, 64});
  std::vector<demucs::DConvBranch> branches{random_branch(16, 2, 1), random_branch(16, 2, 2)};
  auto rows = at::randn({1, 16, 12, 40}), long_sequence = at::randn({1, 16, 9000});
  // Frequency rows dealt over several groups: 8 rows of 336 steps in two of 4, 32 in six of 5-6.
  auto few_rows = at::randn({1, 16, 8, 336}), more_rows = at::randn({1, 16, 32, 336});
  auto tokens = at::randn({2, 333, 16}), stereo = at::randn({1, 2, 30000});
  auto spectrum = at::randn({4, 2049, 60, 2}), weight = at::randn({300, 64}) * 0.1;
  auto bias = at::randn({300}), rewrite = at::randn({32, 16, 1}) * 0.3,
       rewrite_bias = at::randn({32});
  auto run_all = [&](bool fast) {
    std::vector<at::Tensor> out;
    out.push_back(*demucs::conv_cpu(transposed_in, transposed_w, {}, {4, 1}, {}, {}, true, fast));
    out.push_back(*demucs::winograd_conv3x3(winograd_in, winograd_w, {}, fast));
    out.push_back(*demucs::winograd_conv3x3_glu(winograd_in, winograd_w, {}, fast));
    out.push_back(*demucs::attention_cpu(q, k, v, 4, fast));
    out.push_back(demucs::dconv_cpu(branches, true, rows, fast));
    out.push_back(demucs::dconv_cpu(branches, true, long_sequence, fast));
    out.push_back(demucs::dconv_cpu(branches, true, few_rows, fast));
    out.push_back(demucs::dconv_cpu(branches, true, more_rows, fast));
    out.push_back(
        *demucs::token_group_norm_cpu(tokens, bias.slice(0, 0, 16), bias.slice(0, 16, 32), 1e-5));
    out.push_back(demucs::spectro(stereo, 4096, 1024));
    out.push_back(demucs::ispectro(at::view_as_complex(spectrum), 1024, std::nullopt));
    if (demucs::f32_products_available()) {
      out.push_back(*demucs::pointwise_conv_cpu(long_sequence, rewrite, rewrite_bias));
      out.push_back(*demucs::pointwise_glu_cpu(long_sequence, rewrite, rewrite_bias));
      out.push_back(*demucs::linear_f32_cpu(q.reshape({-1, 64}), weight, bias));
      out.push_back(
          *demucs::linear_f32_cpu(q.reshape({-1, 64}), weight, bias, demucs::AfterLinear::gelu));
      out.push_back(demucs::unfold_conv_cpu(long_sequence,
                                            transposed_w.select(3, 0).slice(1, 0, 16), {}, 4, 2));
      out.push_back(*demucs::winograd_conv3tap(taps_in, taps_w, rewrite_bias));
      out.push_back(*demucs::winograd_conv3tap_glu(taps_in, taps_w, rewrite_bias));
    }
    if (fast && demucs::bf16_products_available()) {
      out.push_back(*demucs::linear_bf16_cpu(q.reshape({-1, 64}), weight, bias));
      demucs::FeedForwardWeights ff{weight, bias, weight.t() * 0.5, q[0][0]};
      out.push_back(*demucs::feed_forward_bf16_cpu(q, ff));
      out.push_back(*demucs::feed_forward_bf16_cpu(q, ff, {k[0][0], v[0][0], 1e-5, q[0][1]}));
    }
    if (fast && demucs::int8_products_available()) {
      out.push_back(*demucs::linear_int8_cpu(q.reshape({-1, 64}), weight, bias));
      demucs::FeedForwardWeights ff{weight, bias, weight.t() * 0.5, q[0][0]};
      ff.int8 = true;
      out.push_back(*demucs::feed_forward_bf16_cpu(q, ff));
      out.push_back(*demucs::feed_forward_bf16_cpu(q, ff, {k[0][0], v[0][0], 1e-5, q[0][1]}));
    }
    return out;
  };
  ThreadCount restored(at::get_num_threads());  // the loops below change it
  for (bool fast : {false, true}) {
    at::set_num_threads(1);
    auto one = run_all(fast);
    for (int threads : {4, 8}) {
      at::set_num_threads(threads);
      auto many = run_all(fast);
      ASSERT_EQ(one.size(), many.size());
      for (size_t i = 0; i < one.size(); ++i)
        EXPECT_TRUE(at::equal(one[i], many[i]))
            << "kernel " << i << " on " << threads << " threads" << (fast ? ", fast mode" : "");
    }
  }
}

TEST(EngineKernels, AvxChoiceLeavesAUsersSettingAlone) {
  const char* before = std::getenv("ATEN_CPU_CAPABILITY");
  std::string saved = before ? before : "";
  setenv("ATEN_CPU_CAPABILITY", "avx2", 1);
  demucs::prefer_avx512_kernels();
  EXPECT_STREQ(std::getenv("ATEN_CPU_CAPABILITY"), "avx2");
  unsetenv("ATEN_CPU_CAPABILITY");
  demucs::prefer_avx512_kernels();
  const char* chosen = std::getenv("ATEN_CPU_CAPABILITY");
  bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  EXPECT_EQ(chosen != nullptr, avx512);
  if (chosen) {
    EXPECT_STREQ(chosen, "avx512");
  }
  if (before)
    setenv("ATEN_CPU_CAPABILITY", saved.c_str(), 1);
  else
    unsetenv("ATEN_CPU_CAPABILITY");
}

TEST(EngineKernels, InverseStftMatchesTorchIstft) {
  c10::InferenceMode guard;
  at::manual_seed(11);
  int64_t n_fft = 256, hop = 64, frames = 40;
  auto z = at::randn({2, 3, n_fft / 2 + 1, frames}, at::kComplexFloat);
  auto window = at::hann_window(n_fft);
  auto reference = [&](c10::optional<int64_t> length) {
    return at::istft(z.reshape({-1, n_fft / 2 + 1, frames}), n_fft, hop, n_fft, window, true, true,
                     c10::nullopt, length, false);
  };
  int64_t natural = hop * (frames - 1);
  for (std::optional<int64_t> length : {std::optional<int64_t>{}, std::optional<int64_t>{1000},
                                        std::optional<int64_t>{natural + 100}}) {
    auto mine = demucs::ispectro(z, hop, length);
    c10::optional<int64_t> len;
    if (length) len = *length;
    auto theirs = reference(len).view({2, 3, -1});
    ASSERT_EQ(mine.sizes(), theirs.sizes());
    EXPECT_GT(snr_db(mine, theirs), 120.0) << (length ? *length : -1);
  }
}

}  // namespace
}  // namespace msaas::test
