// demucs/weight_product_cpu.h: a weight matrix times float32 columns in the mode's precision:
// float32 (the exact mode) on f32_cpu.h's kernel, or BLAS where the CPU lacks AVX-512F; or
// bfloat16 factors with float32 sums on bf16_cpu.h's kernel (fast mode, where the CPU has AVX-512
// BF16), the weight rounded once when the product is made.
// The engine's convolution kernels (transposed, Winograd's 16, 36 or 6 points, DConv's first)
// make one per weight for a call and run it on their worker threads.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "demucs/bf16_cpu.h"

namespace msaas::demucs {

class WeightProduct {
 public:
  // weight: float32 [m, k] on the CPU. bf16_products (fast mode) is ignored where the CPU lacks
  // AVX-512 BF16.
  WeightProduct(const at::Tensor& weight, bool bf16_products);

  // c (m x n, row stride ldc) = weight times b (k rows of n floats, row stride ldb), on the
  // calling thread. `pairs` is the caller's scratch for fast mode's packed columns.
  void operator()(const float* b, int64_t ldb, int64_t n, float* c, int64_t ldc,
                  std::vector<uint16_t>& pairs) const;

 private:
  at::Tensor weight_;
  std::optional<Bf16Rows> rounded_;
};

}  // namespace msaas::demucs
