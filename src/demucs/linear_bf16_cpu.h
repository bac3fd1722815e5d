// demucs/linear_bf16_cpu.h: fast mode's linear layers (attention's projections to queries, keys
// and values, Linear: attention's output projection, the feed-forward layers, the v3 models'
// BLSTM output layer), x weight^T + bias with bfloat16
// factors and float32 sums (bf16_cpu.h). Autocast's bfloat16 linear layer rounds its output to
// bfloat16 as well, and rounded queries and keys moved the softmax's weights enough to cost a
// stem 0.14 dB (docs/quality.md, docs/benchmarks.md points 24 and 26); this one is as fast.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "demucs/linear_rows.h"
#include "demucs/unfilled_buffer.h"

namespace msaas::demucs {

// x: [..., in] float32, weight: [out, in], bias: [out] or undefined; returns [..., out] in
// float32. nullopt where the CPU lacks AVX-512 BF16 or a tensor is not float32 on the CPU: the
// caller's own product then runs.
std::optional<at::Tensor> linear_bf16_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias);

// weight [n, k] (float32, contiguous, on the CPU) packed as gemm_bf16's right-hand factor, its
// transpose by pairs of rows: bf16_depth(k) * n numbers. Packed on all threads, on every call
// (about 0.3 ms for 512 x 1536, against 5-10 ms of product), into memory no thread zeroed first.
UnfilledBuffer<uint16_t> pack_weight_bf16(const at::Tensor& weight);

}  // namespace msaas::demucs
