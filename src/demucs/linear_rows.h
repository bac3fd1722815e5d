// demucs/linear_rows.h: what the engine's linear kernels (linear_bf16_cpu, linear_int8_cpu) do
// around their products: which inputs they take, x's rows as one float32 matrix, and the output
// given back in x's shape.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace msaas::demucs {

// True where x, weight and bias suit the engine's linear kernels (linear_bf16_cpu and
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

}  // namespace msaas::demucs
