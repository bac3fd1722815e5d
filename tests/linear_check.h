// What the tests of the engine's linear layers share (bf16, int8 and f32 kernels tests): a
// layer without a bias gives the biased layer's expected numbers less the bias, shapes or types
// that at::linear would refuse (or that the kernels do not take) are left to the caller, and
// the feed-forward block in one pass gives the bits of its layers one by one.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "demucs/exp_cpu.h"
#include "demucs/feed_forward_bf16_cpu.h"

namespace msaas::test {

// The linear kernels' common case, drawn in this order: tokens [2, 101, 33] (an odd width, a row
// count past the 48-row work items), a weight of 300 outputs (past the kernels' 64-column panels
// and 128-column packing items, the last one partial) and its bias.
struct LinearCase {
  at::Tensor x, weight, bias;
};
inline LinearCase random_linear_case() {
  auto x = at::randn({2, 101, 33});
  auto weight = at::randn({300, 33}) * 0.2;
  return {x, weight, at::randn({300})};
}

// linear(x, weight, bias) -> std::optional<at::Tensor>; expected: the biased layer's numbers in
// double, to within tolerance.
template <class Linear>
void expect_no_bias_and_refusals(Linear linear, const at::Tensor& x, const at::Tensor& weight,
                                 const at::Tensor& bias, const at::Tensor& expected,
                                 double tolerance) {
  auto no_bias = linear(x, weight, at::Tensor());
  ASSERT_TRUE(no_bias) << "a linear layer without a bias";
  at::Tensor error = (no_bias->to(at::kDouble) + bias.to(at::kDouble) - expected).abs().max();
  EXPECT_LT(error.item<double>(), tolerance);
  EXPECT_FALSE(linear(x.to(at::kDouble), weight, bias)) << "float32 only";
  EXPECT_FALSE(linear(x, weight.slice(1, 0, weight.size(1) / 2), bias))
      << "a weight narrower than x's rows is at::linear's to refuse";
  EXPECT_FALSE(linear(x, weight, bias.slice(0, 0, bias.size(0) - 1))) << "a short bias";
}

// The feed-forward block in one pass (ff: x's width in, 40 out) gives the bits of its two layers
// run one after the other through `linear` (the same kind of products), with the same GELU (or
// ReLU) between them: the hidden layer's blocks change nothing but where it lies. x: [2, 101,
// width]; 101 and 5 tokens, past and short of the 48-token blocks.
template <class Linear>
void expect_block_gives_its_layers_bits(demucs::FeedForwardWeights ff, const at::Tensor& x,
                                        Linear linear) {
  using demucs::Activation;
  for (auto activation : {Activation::gelu, Activation::relu}) {
    ff.activation = activation;
    for (int64_t tokens : {101, 5}) {
      auto in = x.slice(1, 0, tokens);
      auto y = demucs::feed_forward_bf16_cpu(in, ff);
      ASSERT_TRUE(y);
      ASSERT_EQ(y->sizes(), (std::vector<int64_t>{2, tokens, 40}));
      at::Tensor hidden = *linear(in, ff.w1, ff.b1);
      if (activation == Activation::gelu) {
        float* h = hidden.data_ptr<float>();
        for (int64_t i = 0; i < hidden.numel(); ++i) h[i] = demucs::gelu(h[i]);
      } else {
        hidden.relu_();
      }
      at::Tensor expected = *linear(hidden, ff.w2, ff.b2);
      EXPECT_TRUE(at::equal(*y, expected))
          << "largest difference " << (*y - expected).abs().max().item<float>();
    }
  }
}

}  // namespace msaas::test
