// demucs/conv_cpu.h: Demucs' 1x1 and transposed convolutions as matrix products on the CPU (the
// 1x1 ones on pointwise_cpu.h's kernel, or BLAS where the CPU lacks AVX-512F).
// Through ATen the first go to oneDNN, which runs these shapes at a third of BLAS's speed, and
// the second (kernel K, stride S along one axis) end in a single-threaded col2im; here they are
// 2-4x faster. Same sums, in another order. The strided encoder convolutions were tried the same
// way (regrouped input, ceil(K / S) products) and stay with oneDNN, which was as fast. 3x3
// convolutions (stride 1, padding 1), and the exact mode's 3-tap ones along one axis, are handed
// to winograd_cpu.h; the exact mode's shallow strided ones to unfold_conv_cpu.h.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

// x: [B, Cin, L] with a conv1d weight, or [B, Cin, L, T] with a conv2d weight whose second
// kernel axis is 1 (stride 1, no padding there); a kernel of 1, or transposed with K <= 2 * S
// and no padding; or [B, Cin, H, W] with a 3x3 kernel, stride 1, padding 1 (winograd_conv3x3's
// rules); in the exact mode also [B, Cin, L] with 3 taps, stride 1, padding 1 (winograd_conv3tap's
// rules) and shallow strided ones (unfold_conv_cpu.h). Returns nullopt where the shape is not one
// of those, the input is not float32 on the CPU, or autocast (fast mode) is on: ATen then runs it.
// bf16_products (fast mode, with autocast left out by the caller): the transposed and 3x3 products
// take bfloat16 factors with float32 sums (bf16_cpu.h) where the CPU has AVX-512 BF16; the 1x1 ones
// stay float32 (bfloat16 factors there cost a stem of the evaluation set 0.30 dB).
std::optional<at::Tensor> conv_cpu(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias, at::IntArrayRef stride,
                                   at::IntArrayRef padding, at::IntArrayRef dilation,
                                   bool transposed, bool bf16_products = false);

}  // namespace msaas::demucs
