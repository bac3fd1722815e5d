// demucs/linear_rows.h: what the engine's linear kernels (linear_bf16_cpu, linear_int8_cpu,
// linear_f32_cpu) do around their products: which inputs they take, x's rows as one float32
// matrix, the bias added to rows, and the output given back in x's shape.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace msaas::demucs {

// True where x, weight and bias suit the engine's linear kernels: float32 on the CPU (autocast
// off), weight [n, k] with k x's last size and not 0, bias [n] or undefined. Other shapes are
// at::linear's (to refuse with its own message, or for k = 0 to give the bias).
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

// rows x n floats, row r at out + r * n: each row += bias (n floats, or nullptr for none).
void add_bias_to_rows(float* out, int64_t rows, int64_t n, const float* bias);

}  // namespace msaas::demucs
