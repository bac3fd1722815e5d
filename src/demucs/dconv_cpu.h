// demucs/dconv_cpu.h: DConv's residual branches (conv, GroupNorm, GELU, 1x1 conv, GroupNorm, GLU,
// LayerScale, add) fused on the CPU. ATen runs them as a dozen passes over tensors up to twice the
// input's size; here each sequence (a frequency row, or a stretch of time) goes through all of
// them while it sits in the cache. Same arithmetic, summed in another order, the GLU's sigmoid
// from an exp of our own (exp_cpu.h, a few ulp from ATen's).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace msaas::demucs {

// One residual branch of DConv in float32: x + scale * glu(norm_out(conv_out(act(norm_in(
// conv_in(x)))))). conv_in: K taps with dilation and padding; conv_out: 1x1.
struct DConvBranch {
  at::Tensor conv_in_weight;                  // [K * hidden, C]: row k * hidden + o is w[o, :, k]
  at::Tensor conv_in_bias;                    // [hidden]
  at::Tensor norm_in_weight, norm_in_bias;    // GroupNorm(1, hidden)
  at::Tensor conv_out_weight, conv_out_bias;  // [2C, hidden], [2C]
  at::Tensor norm_out_weight, norm_out_bias;  // GroupNorm(1, 2C)
  at::Tensor scale;                           // LayerScale, [C]
  int64_t dilation = 1, padding = 1;
  double eps = 1e-5;
};

// x: float32 on the CPU, [B, C, T] or [B, C, F, T] (each frequency row a sequence of its own, as
// the frequency branch runs DConv). Returns a new tensor of x's shape; x is left as it was.
// bf16_products (fast mode): conv_in takes bfloat16 factors with float32 sums (bf16_cpu.h) where
// the CPU has AVX-512 BF16, and the GELU is exp_cpu.h's; everything else stays float32.
at::Tensor dconv_cpu(const std::vector<DConvBranch>& branches, bool gelu, const at::Tensor& x,
                     bool bf16_products = false);

}  // namespace msaas::demucs
