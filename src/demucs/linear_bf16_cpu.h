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
#include <vector>

namespace msaas::demucs {

// x: [..., in] float32, weight: [out, in], bias: [out] or undefined; returns [..., out] in
// float32. nullopt where the CPU lacks AVX-512 BF16 or a tensor is not float32 on the CPU: the
// caller's own product then runs.
std::optional<at::Tensor> linear_bf16_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias);

// True where x, weight and bias suit the engine's linear kernels (this one and
// linear_int8_cpu): float32 on the CPU, weight [n, k] with k x's last size, bias [n] or
// undefined. Other shapes are at::linear's to refuse, with its own message.
bool linear_kernels_apply(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// What both linear kernels do around their products: x's rows as one contiguous float32 matrix
// (m x k), the bias's values (nullptr for none), an output of m x n floats, and that output
// given back in x's shape with n last.
struct LinearRows {
  at::Tensor rows, bias, y;
  int64_t m = 0, k = 0, n = 0;
  const float* in = nullptr;
  const float* bias_values = nullptr;
  float* out = nullptr;
  LinearRows(const at::Tensor& x, const at::Tensor& bias, int64_t n);
  at::Tensor result(const at::Tensor& x) const;
};

// weight [n, k] (float32, contiguous, on the CPU) packed as gemm_bf16's right-hand factor, its
// transpose by pairs of rows: bf16_depth(k) * n numbers. Packed on all threads, on every call
// (about 0.3 ms for 512 x 1536, against 5-10 ms of product).
std::vector<uint16_t> pack_weight_bf16(const at::Tensor& weight);

// rows x n floats, row r at out + r * n: each row += bias (n floats, or nullptr for none).
void add_bias_to_rows(float* out, int64_t rows, int64_t n, const float* bias);

}  // namespace msaas::demucs
