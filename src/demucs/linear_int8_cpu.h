// demucs/linear_int8_cpu.h: fast mode's linear layers in the transformer (attention's
// projections to queries, keys and values and its output projection; the feed-forward layers
// take the same products inside feed_forward_bf16_cpu), x weight^T + bias with int8 factors and
// 32-bit integer sums (int8_cpu.h): each token and each weight row on a scale of its own. Used
// where int8_products_preferred() (MSAAS_FAST_INT8=1); elsewhere the caller keeps
// linear_bf16_cpu.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "demucs/int8_cpu.h"

namespace msaas::demucs {

// x: [..., in] float32, weight: [out, in], bias: [out] or undefined; returns [..., out] in
// float32. nullopt where the CPU lacks AVX-512 VNNI, a tensor is not float32 on the CPU, or
// `in` is past kMaxInt8Depth.
std::optional<at::Tensor> linear_int8_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias);

// Fast mode's product for a linear layer, the one choice its callers share: int8 factors where
// `int8` allows them and int8_products_preferred(), else bfloat16 ones (linear_bf16_cpu);
// nullopt where neither kernel takes it.
std::optional<at::Tensor> fast_linear_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias, bool int8);

// weight [n, k] (float32, contiguous, on the CPU) quantized and packed on all threads, on every
// call.
Int8Weight quantize_weight_int8(const at::Tensor& weight);

}  // namespace msaas::demucs
