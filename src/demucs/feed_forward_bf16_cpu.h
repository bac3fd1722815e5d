// demucs/feed_forward_bf16_cpu.h: fast mode's transformer feed-forward block,
// linear2(activation(linear1(x))), with bfloat16 factors and float32 sums like linear_bf16_cpu,
// but a block of tokens at a time: the hidden layer, four times wider than the tokens, passes
// from one product to the next through cache, its bias, activation and rounding to bfloat16
// done there. Layer by layer it went through memory four times (22 MB for the frequency
// branch's 2,688 tokens: written, then read and written by the bias, by ATen's GELU, and read
// for the rounding). A norm-first layer's whole feed-forward half, x + gamma *
// feed_forward(layer_norm(x)), runs the same way, the norm and the residual sum on each block
// too (docs/benchmarks.md, point 29). The GELU is exp_cpu.h's, within 2.2e-7 plus a float ulp
// of ATen's. With MSAAS_FAST_INT8=1 the transformer asks for int8 factors instead
// (linear_int8_cpu's products, the same blocks; point 31).
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

enum class Activation { gelu, relu };

// w1: [hidden, in], b1: [hidden], w2: [out, hidden], b2: [out], all float32. int8: both
// products with int8 factors instead (int8_cpu.h: each token and hidden row, each weight row on
// a scale of its own; needs AVX-512 VNNI), as the transformer's layers take them.
struct FeedForwardWeights {
  at::Tensor w1, b1, w2, b2;
  Activation activation = Activation::gelu;
  bool int8 = false;
};

// What a norm-first layer puts around the block: a layer norm over each token before it
// (weight, bias: [in]), and the residual sum after it, scaled by gamma ([out], LayerScale; or
// undefined: none). Needs out == in.
struct NormAndResidual {
  at::Tensor norm_weight, norm_bias;
  double eps = 1e-5;
  at::Tensor gamma;
};

// x: [..., in] float32. Returns feed_forward(x), [..., out] in float32, or nullopt where the CPU
// lacks AVX-512 BF16 (VNNI for int8) or a tensor is not a float32 one of the right shape on the
// CPU: the caller's own layers then run.
std::optional<at::Tensor> feed_forward_bf16_cpu(const at::Tensor& x, const FeedForwardWeights& ff);

// The same for x + gamma * feed_forward(layer_norm(x)).
std::optional<at::Tensor> feed_forward_bf16_cpu(const at::Tensor& x, const FeedForwardWeights& ff,
                                                const NormAndResidual& around);

}  // namespace msaas::demucs
