// demucs/feed_forward_bf16_cpu.h: fast mode's transformer feed-forward block,
// linear2(activation(linear1(x))), with bfloat16 factors and float32 sums like linear_bf16_cpu,
// but a block of tokens at a time: the hidden layer, four times wider than the tokens, passes
// from one product to the next through cache, its bias, activation and rounding to bfloat16
// done there. Layer by layer it went through memory four times (22 MB for the frequency
// branch's 2,688 tokens: written, then read and written by the bias, by ATen's GELU, and read
// for the rounding), and ATen's GELU alone took 5 % of fast mode's time (docs/benchmarks.md,
// point 29). The GELU is exp_cpu.h's, within 3e-7 of ATen's.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

enum class Activation { gelu, relu };

// x: [..., in] float32; w1: [hidden, in], b1: [hidden], w2: [out, hidden], b2: [out], all
// float32. Returns [..., out] in float32, or nullopt where the CPU lacks AVX-512 BF16 or a
// tensor is not a float32 one on the CPU: the caller's own layers then run.
std::optional<at::Tensor> feed_forward_bf16_cpu(const at::Tensor& x, const at::Tensor& w1,
                                                const at::Tensor& b1, const at::Tensor& w2,
                                                const at::Tensor& b2, Activation activation);

}  // namespace msaas::demucs
