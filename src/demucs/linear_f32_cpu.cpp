// demucs/linear_f32_cpu.cpp: see linear_f32_cpu.h.
#include "demucs/linear_f32_cpu.h"

#include <algorithm>
#include <cstdint>

#include "demucs/f32_cpu.h"
#include "demucs/linear_rows.h"
#include "demucs/parallel_items.h"
#include "demucs/unfilled_buffer.h"

namespace msaas::demucs {
namespace {

// Rows of x per work item (8 of the kernel's tiles of 6): 96 KB for 512 inputs, in the cache
// while the weight's panels pass.
constexpr int64_t kRows = 48;

// The kernel's tile width: the weight's transpose is laid out in panels this many columns wide.
constexpr int64_t kPanel = 64;

// weight [n, k] as its transpose cut into panels: panel j holds columns [64 j, 64 j + 64) of
// weight^T as k rows of 64 floats (the last panel's rows padded with zeros, which the kernel's
// masked loads never read: written so the layout is the same on every call), so that a panel is
// one contiguous block: read in place at weight^T's own row stride, a panel's rows lie n floats
// apart and on 8 KB strides they fall into the same few cache sets. Allocated without a serial
// zero-fill; the threads write it whole (unfilled_buffer.h).
UnfilledBuffer<float> pack_panels(const at::Tensor& weight) {
  int64_t n = weight.size(0), k = weight.size(1), panels = (n + kPanel - 1) / kPanel;
  UnfilledBuffer<float> packed(panels * k * kPanel);
  const float* w = weight.data_ptr<float>();
  parallel_items<NoState>(panels, [&](NoState&, int64_t j) {
    float* panel = packed.data() + j * k * kPanel;
    int64_t width = std::min(kPanel, n - j * kPanel);
    for (int64_t p = 0; p < k; ++p)
      std::fill(panel + p * kPanel + width, panel + (p + 1) * kPanel, 0.f);
    for (int64_t c = 0; c < width; ++c)
      for (int64_t p = 0; p < k; ++p) panel[p * kPanel + c] = w[(j * kPanel + c) * k + p];
  });
  return packed;
}

}  // namespace

std::optional<at::Tensor> linear_f32_cpu(const at::Tensor& x, const at::Tensor& weight,
                                         const at::Tensor& bias, AfterLinear then) {
  if (!f32_products_available() || !linear_kernels_apply(x, weight, bias)) return std::nullopt;
  LinearRows l(x, bias, weight.size(0));
  auto panels = pack_panels(weight.contiguous());
  parallel_items<NoState>((l.m + kRows - 1) / kRows, [&](NoState&, int64_t block) {
    int64_t r0 = block * kRows, rows = std::min(l.m, r0 + kRows) - r0;
    float* out = l.out + r0 * l.n;
    for (int64_t j = 0; j * kPanel < l.n; ++j)
      gemm_f32(l.in + r0 * l.k, l.k, panels.data() + j * l.k * kPanel, kPanel, out + j * kPanel,
               l.n, rows, std::min(kPanel, l.n - j * kPanel), l.k);
    add_bias_to_rows(out, rows, l.n, l.bias_values);
    if (then != AfterLinear::nothing) {
      // ATen's kernels on this thread (inside the parallel loop their own loops run inline).
      auto activated = at::from_blob(out, {rows, l.n}, at::kFloat);
      then == AfterLinear::gelu ? at::gelu_(activated) : at::relu_(activated);
    }
  });
  return l.result(x);
}

}  // namespace msaas::demucs
