// demucs/linear_f32_cpu.h: the exact mode's linear layers (attention's projections, Linear:
// attention's output projection and the feed-forward layers), x weight^T + bias in float32 on
// f32_cpu.h's kernel. OpenBLAS packs both factors on every call; here the weight is laid out
// once per call in contiguous panels of 64 columns, and each block of 48 rows of x stays in the
// cache while every panel passes it (docs/benchmarks.md, point 32). Each sum runs over the inputs
// in order, one fused multiply-add per term, so the result is at::linear's within rounding.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

// What linear_f32_cpu applies to its output.
enum class AfterLinear { nothing, gelu, relu };

// x: [..., in] float32, weight: [out, in], bias: [out] or undefined; returns [..., out] in
// float32, through ATen's GELU or ReLU where `then` says so: on each block of rows while it is in
// the cache (the feed-forward layers' hidden layer, 22 MB for 2,688 tokens, is then not read
// and written again by a pass of its own). nullopt where the CPU lacks AVX-512F, autocast (fast
// mode) is on, or the tensors do not suit linear_kernels_apply (linear_rows.h): the caller's
// at::linear then runs.
std::optional<at::Tensor> linear_f32_cpu(const at::Tensor& x, const at::Tensor& weight,
                                         const at::Tensor& bias,
                                         AfterLinear then = AfterLinear::nothing);

}  // namespace msaas::demucs
