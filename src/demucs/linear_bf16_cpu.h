// demucs/linear_bf16_cpu.h: fast mode's projections to attention's queries, keys and values,
// x weight^T + bias with bfloat16 factors and float32 sums (bf16_cpu.h). Autocast's bfloat16
// linear layer rounds its output to bfloat16 as well, and rounded queries and keys moved the
// softmax's weights enough to cost a stem 0.14 dB; with float32 sums the fast mode's attention
// costs no stem more than 0.05 dB (docs/quality.md, docs/benchmarks.md point 24).
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

// x: [..., in] float32, weight: [out, in], bias: [out]; returns [..., out] in float32. nullopt
// where the CPU lacks AVX-512 BF16 or a tensor is not float32 on the CPU: the caller's float32
// product then runs.
std::optional<at::Tensor> linear_bf16_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias);

}  // namespace msaas::demucs
