// demucs/linear_bf16_cpu.cpp: see linear_bf16_cpu.h.
#include "demucs/linear_bf16_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "demucs/bf16_cpu.h"
#include "demucs/parallel_items.h"

namespace msaas::demucs {
namespace {

// Rows of x per work item: 8 of the kernel's tiles of 6, whose bfloat16 rows (48 KB for 512
// inputs) stay in cache while the weight's 64-column panels stream past.
constexpr int64_t kRows = 48;

// The weight's columns per packing work item (a multiple of the packing's 16-column blocks).
constexpr int64_t kPackColumns = 128;

}  // namespace

UnfilledBuffer<uint16_t> pack_weight_bf16(const at::Tensor& weight) {
  int64_t n = weight.size(0), k = weight.size(1);
  UnfilledBuffer<uint16_t> pairs(bf16_depth(k) * n);
  const float* wt = weight.data_ptr<float>();
  // The columns shared over the threads: on one, the other waited for it.
  parallel_items<NoState>((n + kPackColumns - 1) / kPackColumns, [&](NoState&, int64_t i) {
    int64_t j0 = i * kPackColumns;
    pack_bf16_pairs_transposed(wt + j0 * k, k, std::min(kPackColumns, n - j0), k,
                               pairs.data() + 2 * j0, n);
  });
  return pairs;
}

std::optional<at::Tensor> linear_bf16_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias) {
  if (!bf16_products_available() || !linear_kernels_apply(x, weight, bias)) return std::nullopt;
  LinearRows l(x, bias, weight.size(0));
  int64_t depth = bf16_depth(l.k);
  UnfilledBuffer<uint16_t> a(l.m * depth);  // each block rounds its own rows into it
  auto pairs = pack_weight_bf16(weight.contiguous());
  // The bias is added to each block of rows while it is still in cache.
  parallel_items<NoState>((l.m + kRows - 1) / kRows, [&](NoState&, int64_t block) {
    int64_t r0 = block * kRows, rows = std::min(l.m, r0 + kRows) - r0;
    round_rows_to_bf16(l.in + r0 * l.k, l.k, rows, l.k, a.data() + r0 * depth, depth);
    float* out = l.out + r0 * l.n;
    gemm_bf16(a.data() + r0 * depth, depth, pairs.data(), out, l.n, rows, l.n, depth);
    add_bias_to_rows(out, rows, l.n, l.bias_values);
  });
  return l.result(x);
}

}  // namespace msaas::demucs
