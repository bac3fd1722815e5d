// demucs/linear_bf16_cpu.cpp: see linear_bf16_cpu.h.
#include "demucs/linear_bf16_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "demucs/backend.h"
#include "demucs/bf16_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {
namespace {

// Rows of x per work item: 8 of the kernel's tiles of 6, whose bfloat16 rows (48 KB for 512
// inputs) stay in cache while the weight's 64-column panels stream past.
constexpr int64_t kRows = 48;

// The weight's columns per packing work item (a multiple of the packing's 16-column blocks).
constexpr int64_t kPackColumns = 128;

}  // namespace

std::vector<uint16_t> pack_weight_bf16(const at::Tensor& weight) {
  int64_t n = weight.size(0), k = weight.size(1);
  std::vector<uint16_t> pairs(bf16_depth(k) * n);
  const float* wt = weight.data_ptr<float>();
  // The columns shared over the threads: on one, the other waited for it.
  parallel_items<NoState>((n + kPackColumns - 1) / kPackColumns, [&](NoState&, int64_t i) {
    int64_t j0 = i * kPackColumns;
    pack_bf16_pairs_transposed(wt + j0 * k, k, std::min(kPackColumns, n - j0), k,
                               pairs.data() + 2 * j0, n);
  });
  return pairs;
}

MSAAS_VECTOR_CLONES
void add_bias_to_rows(float* out, int64_t rows, int64_t n, const float* bias) {
  if (!bias) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) out[r * n + j] += bias[j];
}

std::optional<at::Tensor> linear_bf16_cpu(const at::Tensor& x, const at::Tensor& weight,
                                          const at::Tensor& bias) {
  if (!bf16_products_available()) return std::nullopt;
  if (!own_cpu_kernels_apply(x) || !own_cpu_kernels_apply(weight)) return std::nullopt;
  if (bias.defined() && !own_cpu_kernels_apply(bias)) return std::nullopt;
  // Shapes at::linear would refuse are left to it, for its error message.
  if (x.dim() < 1 || weight.dim() != 2 || weight.size(1) != x.size(-1)) return std::nullopt;
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) return std::nullopt;
  auto rows = x.reshape({-1, x.size(-1)}).contiguous();
  auto w = weight.contiguous();
  auto b = bias.defined() ? bias.contiguous() : bias;
  int64_t m = rows.size(0), k = rows.size(1), n = w.size(0), depth = bf16_depth(k);
  std::vector<uint16_t> a(m * depth), pairs = pack_weight_bf16(w);
  auto y = at::empty({m, n}, rows.options());
  const float* in = rows.data_ptr<float>();
  const float* bias_values = b.defined() ? b.data_ptr<float>() : nullptr;
  float* out = y.data_ptr<float>();
  // The bias is added to each block of rows while it is still in cache.
  parallel_items<NoState>((m + kRows - 1) / kRows, [&](NoState&, int64_t block) {
    int64_t r0 = block * kRows, r1 = std::min(m, r0 + kRows);
    round_rows_to_bf16(in + r0 * k, k, r1 - r0, k, a.data() + r0 * depth, depth);
    gemm_bf16(a.data() + r0 * depth, depth, pairs.data(), out + r0 * n, n, r1 - r0, n, depth);
    add_bias_to_rows(out + r0 * n, r1 - r0, n, bias_values);
  });
  auto sizes = x.sizes().vec();
  sizes.back() = n;
  return y.view(sizes);
}

}  // namespace msaas::demucs
