// demucs/pointwise_cpu.cpp: see pointwise_cpu.h.
#include "demucs/pointwise_cpu.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "demucs/backend.h"
#include "demucs/exp_cpu.h"
#include "demucs/f32_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {
namespace {

// Positions per work item: the convolution's block (all its output channels) within 256 KB of
// a core's L2 (past 1,024 channels, one 64-column tile), in whole tiles of the kernel.
int64_t block_columns(int64_t rows) {
  constexpr int64_t kBlockFloats = 64 * 1024, kTile = 64;
  return std::clamp(kBlockFloats / rows / kTile * kTile, kTile, 16 * kTile);
}

// out[t] = block[t] + bias over n positions (bias nullptr: a copy).
MSAAS_VECTOR_CLONES
void add_bias(const float* block, const float* bias, int64_t n, float* out) {
  if (!bias) {
    std::copy(block, block + n, out);
    return;
  }
  float b = *bias;
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) out[t] = block[t] + b;
}

// out[t] = (a[t] + bias_a) * sigmoid(g[t] + bias_g) over n positions.
MSAAS_VECTOR_CLONES
void gate(const float* a, const float* g, float bias_a, float bias_g, int64_t n, float* out) {
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) out[t] = (a[t] + bias_a) * sigmoid(g[t] + bias_g);
}

std::optional<at::Tensor> run(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              bool glu) {
  if (!f32_products_available()) return std::nullopt;
  if (!own_cpu_kernels_apply(x) || !own_cpu_kernels_apply(weight)) return std::nullopt;
  if (bias.defined() && !own_cpu_kernels_apply(bias)) return std::nullopt;
  if (x.dim() < 2 || weight.dim() < 2 || weight.numel() != weight.size(0) * weight.size(1))
    return std::nullopt;
  int64_t B = x.size(0), Cin = x.size(1), rows = weight.size(0);
  if (Cin == 0 || weight.size(1) != Cin || (glu && (rows % 2 || !bias.defined())))
    return std::nullopt;
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != rows)) return std::nullopt;
  int64_t C = glu ? rows / 2 : rows;
  auto shape = x.sizes().vec();
  shape[1] = C;
  auto y = at::empty(shape, x.options());
  if (y.numel() == 0) return y;
  auto in = x.contiguous();
  auto w = weight.contiguous();
  auto b = bias.defined() ? bias.contiguous() : bias;
  int64_t n = in.numel() / (B * Cin);
  int64_t columns = block_columns(rows), blocks = (n + columns - 1) / columns;
  const float *in_data = in.data_ptr<float>(), *w_data = w.data_ptr<float>();
  const float* bias_data = b.defined() ? b.data_ptr<float>() : nullptr;
  float* out = y.data_ptr<float>();
  parallel_items<std::vector<float>>(B * blocks, [&](std::vector<float>& block, int64_t item) {
    int64_t batch = item / blocks, t0 = item % blocks * columns;
    int64_t width = std::min(columns, n - t0);
    block.resize(rows * columns);
    gemm_f32(w_data, Cin, in_data + batch * Cin * n + t0, n, block.data(), columns, rows, width,
             Cin);
    for (int64_t c = 0; c < C; ++c) {
      float* dst = out + (batch * C + c) * n + t0;
      if (glu)
        gate(&block[c * columns], &block[(C + c) * columns], bias_data[c], bias_data[C + c], width,
             dst);
      else
        add_bias(&block[c * columns], bias_data ? bias_data + c : nullptr, width, dst);
    }
  });
  return y;
}

}  // namespace

std::optional<at::Tensor> pointwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight,
                                             const at::Tensor& bias) {
  return run(x, weight, bias, false);
}

std::optional<at::Tensor> pointwise_glu_cpu(const at::Tensor& x, const at::Tensor& weight,
                                            const at::Tensor& bias) {
  return run(x, weight, bias, true);
}

}  // namespace msaas::demucs
