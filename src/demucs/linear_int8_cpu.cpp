// demucs/linear_int8_cpu.cpp: see linear_int8_cpu.h.
#include "demucs/linear_int8_cpu.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "demucs/linear_bf16_cpu.h"
#include "demucs/linear_rows.h"
#include "demucs/parallel_items.h"

namespace msaas::demucs {
namespace {

// Rows of x per work item, as in linear_bf16_cpu: their bytes stay in cache while the weight's
// 64-column panels stream past.
constexpr int64_t kRows = 48;

// The weight's rows per quantizing work item (a multiple of the packing's 16-row blocks).
constexpr int64_t kWeightRows = 128;

}  // namespace

Int8Weight quantize_weight_int8(const at::Tensor& weight) {
  int64_t n = weight.size(0), k = weight.size(1);
  auto packed = int8_weight_of_size(n, k);
  const float* w = weight.data_ptr<float>();
  parallel_items<NoState>((n + kWeightRows - 1) / kWeightRows, [&](NoState&, int64_t i) {
    int64_t j0 = i * kWeightRows;
    quantize_weight_rows(w, j0, std::min(kWeightRows, n - j0), packed);
  });
  return packed;
}

std::optional<at::Tensor> linear_int8_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias) {
  if (!int8_products_available() || !linear_kernels_apply(x, weight, bias)) return std::nullopt;
  if (x.size(-1) > kMaxInt8Depth) return std::nullopt;
  LinearRows l(x, bias, weight.size(0));
  auto w = quantize_weight_int8(weight.contiguous());
  std::vector<uint8_t> a(l.m * w.depth);
  std::vector<float> scales(l.m);
  parallel_items<NoState>((l.m + kRows - 1) / kRows, [&](NoState&, int64_t block) {
    int64_t r0 = block * kRows, rows = std::min(l.m, r0 + kRows) - r0;
    uint8_t* block_rows = a.data() + r0 * w.depth;
    quantize_rows_u8(l.in + r0 * l.k, l.k, rows, l.k, block_rows, w.depth, &scales[r0]);
    gemm_u8s8(block_rows, w.depth, &scales[r0], w, l.bias_values, l.out + r0 * l.n, l.n, rows);
  });
  return l.result(x);
}

std::optional<at::Tensor> fast_linear_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias, bool int8) {
  if (int8 && int8_products_preferred())
    if (auto y = linear_int8_cpu(x, weight, bias)) return y;
  return linear_bf16_cpu(x, weight, bias);
}

}  // namespace msaas::demucs
