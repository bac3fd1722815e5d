// demucs/pointwise_cpu.h: 1x1 convolutions on the engine's float32 kernel (f32_cpu.h), a block of
// positions at a time with the bias added there; and an encoder layer's rewrite with its GLU,
// glu(conv1x1(x) + bias, dim 1), where the convolution's output, twice as deep as the layer's,
// stays in cache for the GLU. Through ATen these went to OpenBLAS (addmm: a pass filling the
// bias, then the product, 80-120 GFLOP/s on these shapes inside a separation), and the rewrite's
// output was written out whole (66 MB at the outer frequency encoder) for at::glu to read back
// (docs/benchmarks.md, point 29). Both modes: float32 sums, each over the input channels in
// order, and exp_cpu.h's sigmoid, as DConv's GLU already has.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

// x: [B, Cin, ...] float32; weight: [Cout, Cin] or [Cout, Cin, 1] or [Cout, Cin, 1, 1]; bias:
// [Cout] or undefined. Returns [B, Cout, ...] float32, or nullopt where the CPU lacks AVX-512F,
// a tensor is not float32 on the CPU or autocast is on, or the shapes do not fit: the caller's
// own convolution then runs.
std::optional<at::Tensor> pointwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight,
                                             const at::Tensor& bias);

// The same convolution with Cout = 2 C and a bias, followed by the GLU over the channels: returns
// [B, C, ...], the first half of the channels times the sigmoid of the second.
std::optional<at::Tensor> pointwise_glu_cpu(const at::Tensor& x, const at::Tensor& weight,
                                            const at::Tensor& bias);

}  // namespace msaas::demucs
