// demucs/unfold_conv_cpu.h: a convolution along one axis (kernel K, stride S, padding P) as
// products over the input's unfolded columns (what torch calls unfold, or im2col): for a block
// of output positions, each input channel's K taps are gathered as K rows, and the weight
// [Cout, Cin * K] times those Cin * K rows gives the block's outputs, on f32_cpu.h's kernel
// (through weight_product_cpu.h). conv_cpu runs the exact mode's shallow strided convolutions
// this way, which oneDNN ran at a fraction of its speed on deeper ones (docs/benchmarks.md,
// point 33; the 3-tap ones it ran so until point 35 are Winograd's now). Each output still sums all
// its Cin * K terms in one pass, in another order than ATen's.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace msaas::demucs {

// x: [B, Cin, L] with weight [Cout, Cin, K], or [B, Cin, L, T] with weight [Cout, Cin, K, 1]
// (the frequency branch's convolutions, along L, each of the T columns on its own), float32
// on the CPU, contiguous or not; bias [Cout] or undefined. Returns [B, Cout, Lout(, T)], Lout =
// (L + 2 P - K) / S + 1, as at::conv1d / at::conv2d with stride S and padding P along L. The
// caller (conv_cpu) checks the shapes.
at::Tensor unfold_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           int64_t S, int64_t P);

}  // namespace msaas::demucs
