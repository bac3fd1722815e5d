// demucs/feed_forward_bf16_cpu.cpp: see feed_forward_bf16_cpu.h.
#include "demucs/feed_forward_bf16_cpu.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "demucs/backend.h"
#include "demucs/bf16_cpu.h"
#include "demucs/exp_cpu.h"
#include "demucs/linear_bf16_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {
namespace {

// Tokens per work item: the hidden layer's block, 48 x 2,048 floats (384 KB) and its bfloat16
// copy (192 KB), stays in a core's L2 between the two products.
constexpr int64_t kRows = 48;

// One thread's blocks, kept over its work items.
struct BlockScratch {
  std::vector<uint16_t> tokens, hidden_bf16;
  std::vector<float> hidden;
};

// h = activation(h + bias) over n floats.
MSAAS_VECTOR_CLONES
void activate(float* h, const float* bias, int64_t n, Activation activation) {
  if (activation == Activation::gelu) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) h[j] = gelu(h[j] + bias[j]);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) h[j] = std::max(h[j] + bias[j], 0.0f);  // NaN stays NaN
  }
}

bool is_matrix(const at::Tensor& w, int64_t columns) {
  return own_cpu_kernels_apply(w) && w.dim() == 2 && w.size(1) == columns;
}

bool is_bias(const at::Tensor& b, int64_t size) {
  return b.defined() && own_cpu_kernels_apply(b) && b.dim() == 1 && b.size(0) == size;
}

}  // namespace

std::optional<at::Tensor> feed_forward_bf16_cpu(const at::Tensor& x, const at::Tensor& w1,
                                                const at::Tensor& b1, const at::Tensor& w2,
                                                const at::Tensor& b2, Activation activation) {
  if (!bf16_products_available() || !own_cpu_kernels_apply(x) || x.dim() < 1) return std::nullopt;
  int64_t in = x.size(-1);
  if (!is_matrix(w1, in) || !is_bias(b1, w1.size(0))) return std::nullopt;
  int64_t hidden = w1.size(0);
  if (!is_matrix(w2, hidden) || !is_bias(b2, w2.size(0))) return std::nullopt;
  auto tokens = x.reshape({-1, in}).contiguous();
  auto bias1 = b1.contiguous(), bias2 = b2.contiguous();
  int64_t m = tokens.size(0), out_width = w2.size(0);
  int64_t in_depth = bf16_depth(in), hidden_depth = bf16_depth(hidden);
  auto pairs1 = pack_weight_bf16(w1.contiguous()), pairs2 = pack_weight_bf16(w2.contiguous());
  auto y = at::empty({m, out_width}, tokens.options());
  const float* tokens_in = tokens.data_ptr<float>();
  const float *bias1_values = bias1.data_ptr<float>(), *bias2_values = bias2.data_ptr<float>();
  float* out = y.data_ptr<float>();
  parallel_items<BlockScratch>((m + kRows - 1) / kRows, [&](BlockScratch& s, int64_t block) {
    int64_t r0 = block * kRows, rows = std::min(m, r0 + kRows) - r0;
    s.tokens.resize(kRows * in_depth);
    s.hidden.resize(kRows * hidden);
    s.hidden_bf16.resize(kRows * hidden_depth);
    round_rows_to_bf16(tokens_in + r0 * in, in, rows, in, s.tokens.data(), in_depth);
    gemm_bf16(s.tokens.data(), in_depth, pairs1.data(), s.hidden.data(), hidden, rows, hidden,
              in_depth);
    for (int64_t r = 0; r < rows; ++r)
      activate(&s.hidden[r * hidden], bias1_values, hidden, activation);
    round_rows_to_bf16(s.hidden.data(), hidden, rows, hidden, s.hidden_bf16.data(), hidden_depth);
    float* block_out = out + r0 * out_width;
    gemm_bf16(s.hidden_bf16.data(), hidden_depth, pairs2.data(), block_out, out_width, rows,
              out_width, hidden_depth);
    add_bias_to_rows(block_out, rows, out_width, bias2_values);
  });
  auto sizes = x.sizes().vec();
  sizes.back() = out_width;
  return y.view(sizes);
}

}  // namespace msaas::demucs
