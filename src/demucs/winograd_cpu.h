// demucs/winograd_cpu.h: the decoders' 3x3 convolutions (the frequency branch's `rewrite`, stride
// 1, padding 1) by Winograd's minimal filtering (winograd_tiles.h): F(4x4, 3x3) in the exact
// mode, each 4x4 block of output in 36 multiplications per channel pair instead of 144, and
// F(2x2, 3x3) from bfloat16 factors (fast mode) or on BLAS, 16 instead of 36. Through ATen these
// go to oneDNN, which runs the wide, few-channel ones (48 channels, 512 x 336) at about 40 % of
// the machine's peak.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

// Whether a (not transposed) convolution is one winograd_conv3x3 computes: a 3x3 kernel over two
// axes, stride 1, padding 1, no dilation (entries left out count as ATen's defaults: stride 1,
// padding 0, dilation 1).
bool is_plain_3x3(const at::Tensor& weight, at::IntArrayRef stride, at::IntArrayRef padding,
                  at::IntArrayRef dilation);

// x: [B, Cin, H, W] float32, weight [Cout, Cin, 3, 3], bias [Cout] or undefined; stride 1,
// padding 1. Returns nullopt where the image is too small for the transforms to pay (ATen then
// runs it), the input is not float32 on the CPU or is empty, autocast (fast mode) is on, or one
// output channel's transformed kernels alone pass 24 MB. bf16_products (fast mode, autocast left
// out by the caller): F(2x2)'s products take bfloat16 factors with float32 sums (bf16_cpu.h)
// where the CPU has AVX-512 BF16.
std::optional<at::Tensor> winograd_conv3x3(const at::Tensor& x, const at::Tensor& weight,
                                           const at::Tensor& bias, bool bf16_products = false);

// glu(winograd_conv3x3(x, weight, bias), dim 1) in one pass, as a decoder's rewrite and its GLU
// run: [B, Cout / 2, H, W], the first half of the output channels times the sigmoid
// (exp_cpu.h) of the second, gated while each item's output is in the cache, so the
// convolution's full depth (66 MB at htdemucs' outer frequency decoder) is never written out.
// nullopt where winograd_conv3x3 would return it, or Cout is odd.
std::optional<at::Tensor> winograd_conv3x3_glu(const at::Tensor& x, const at::Tensor& weight,
                                               const at::Tensor& bias, bool bf16_products = false);

// Whether a (not transposed) convolution is one winograd_conv3tap computes: 3 taps along one
// axis, stride 1, padding 1, no dilation.
bool is_plain_3tap(const at::Tensor& weight, at::IntArrayRef stride, at::IntArrayRef padding,
                   at::IntArrayRef dilation);

// One axis: x [B, Cin, L] float32, weight [Cout, Cin, 3], stride 1, padding 1 (the time
// branch's rewrites), by F(4, 3): 6 products per 4 outputs instead of 12, on f32_cpu.h's kernel.
// The exact mode's only: nullopt where the CPU lacks AVX-512F, the input is shorter than 256,
// empty or not float32 on the CPU, autocast is on, or the transformed kernels pass 24 MB.
std::optional<at::Tensor> winograd_conv3tap(const at::Tensor& x, const at::Tensor& weight,
                                            const at::Tensor& bias);

// glu(winograd_conv3tap(x, weight, bias), dim 1) in one pass; nullopt also where Cout is odd.
std::optional<at::Tensor> winograd_conv3tap_glu(const at::Tensor& x, const at::Tensor& weight,
                                                const at::Tensor& bias);

}  // namespace msaas::demucs
