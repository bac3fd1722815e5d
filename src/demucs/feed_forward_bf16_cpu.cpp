// demucs/feed_forward_bf16_cpu.cpp: see feed_forward_bf16_cpu.h.
#include "demucs/feed_forward_bf16_cpu.h"

#include <algorithm>
#include <cmath>
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
  std::vector<float> normed, hidden;
  std::vector<uint16_t> tokens, hidden_bf16;
};

// out = layer_norm(x) over n floats: the mean, then the mean square of the deviations from it
// (two passes, no cancellation), in float like ATen's.
MSAAS_VECTOR_CLONES
void layer_norm_row(const float* x, int64_t n, const float* weight, const float* bias, float eps,
                    float* out) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += x[j];
  float mean = sum / static_cast<float>(n), squares = 0.0f;
#pragma omp simd reduction(+ : squares)
  for (int64_t j = 0; j < n; ++j) squares += (x[j] - mean) * (x[j] - mean);
  float rstd = 1.0f / std::sqrt(squares / static_cast<float>(n) + eps);
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) out[j] = (x[j] - mean) * rstd * weight[j] + bias[j];
}

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

// y = x + gamma * (y + bias) over n floats (gamma nullptr: 1).
MSAAS_VECTOR_CLONES
void add_residual(const float* x, const float* bias, const float* gamma, int64_t n, float* y) {
  if (gamma) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = x[j] + gamma[j] * (y[j] + bias[j]);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = x[j] + (y[j] + bias[j]);
  }
}

bool is_matrix(const at::Tensor& w, int64_t columns) {
  return own_cpu_kernels_apply(w) && w.dim() == 2 && w.size(1) == columns;
}

bool is_vector(const at::Tensor& v, int64_t size) {
  return v.defined() && own_cpu_kernels_apply(v) && v.dim() == 1 && v.size(0) == size;
}

bool applies(const at::Tensor& x, const FeedForwardWeights& ff) {
  if (!bf16_products_available() || !own_cpu_kernels_apply(x) || x.dim() < 1 || x.size(-1) == 0)
    return false;
  int64_t in = x.size(-1);
  if (!is_matrix(ff.w1, in) || !is_vector(ff.b1, ff.w1.size(0))) return false;
  return is_matrix(ff.w2, ff.w1.size(0)) && is_vector(ff.b2, ff.w2.size(0));
}

bool applies(const NormAndResidual& around, int64_t in, int64_t out) {
  return in == out && is_vector(around.norm_weight, in) && is_vector(around.norm_bias, in) &&
         (!around.gamma.defined() || is_vector(around.gamma, out));
}

const float* values(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<float>() : nullptr;
}

// Both entry points: `around` nullptr for the block alone.
at::Tensor run(const at::Tensor& x, const FeedForwardWeights& ff, const NormAndResidual* around) {
  auto tokens = x.reshape({-1, x.size(-1)}).contiguous();
  auto b1 = ff.b1.contiguous(), b2 = ff.b2.contiguous();
  at::Tensor norm_weight, norm_bias, gamma;
  if (around) {
    norm_weight = around->norm_weight.contiguous(), norm_bias = around->norm_bias.contiguous();
    if (around->gamma.defined()) gamma = around->gamma.contiguous();
  }
  int64_t m = tokens.size(0), in = tokens.size(1), hidden = ff.w1.size(0), width = ff.w2.size(0);
  int64_t in_depth = bf16_depth(in), hidden_depth = bf16_depth(hidden);
  auto pairs1 = pack_weight_bf16(ff.w1.contiguous()), pairs2 = pack_weight_bf16(ff.w2.contiguous());
  auto y = at::empty({m, width}, tokens.options());
  const float* tokens_in = tokens.data_ptr<float>();
  float* out = y.data_ptr<float>();
  float eps = around ? static_cast<float>(around->eps) : 0.0f;
  parallel_items<BlockScratch>((m + kRows - 1) / kRows, [&](BlockScratch& s, int64_t block) {
    int64_t r0 = block * kRows, rows = std::min(m, r0 + kRows) - r0;
    const float* block_in = tokens_in + r0 * in;
    s.tokens.resize(kRows * in_depth);
    s.hidden.resize(kRows * hidden);
    s.hidden_bf16.resize(kRows * hidden_depth);
    const float* products_in = block_in;
    if (around) {
      s.normed.resize(kRows * in);
      for (int64_t r = 0; r < rows; ++r)
        layer_norm_row(block_in + r * in, in, values(norm_weight), values(norm_bias), eps,
                       &s.normed[r * in]);
      products_in = s.normed.data();
    }
    round_rows_to_bf16(products_in, in, rows, in, s.tokens.data(), in_depth);
    gemm_bf16(s.tokens.data(), in_depth, pairs1.data(), s.hidden.data(), hidden, rows, hidden,
              in_depth);
    for (int64_t r = 0; r < rows; ++r)
      activate(&s.hidden[r * hidden], values(b1), hidden, ff.activation);
    round_rows_to_bf16(s.hidden.data(), hidden, rows, hidden, s.hidden_bf16.data(), hidden_depth);
    float* block_out = out + r0 * width;
    gemm_bf16(s.hidden_bf16.data(), hidden_depth, pairs2.data(), block_out, width, rows, width,
              hidden_depth);
    if (around) {
      for (int64_t r = 0; r < rows; ++r)
        add_residual(block_in + r * in, values(b2), values(gamma), width, block_out + r * width);
    } else {
      add_bias_to_rows(block_out, rows, width, values(b2));
    }
  });
  auto sizes = x.sizes().vec();
  sizes.back() = width;
  return y.view(sizes);
}

}  // namespace

std::optional<at::Tensor> feed_forward_bf16_cpu(const at::Tensor& x, const FeedForwardWeights& ff) {
  if (!applies(x, ff)) return std::nullopt;
  return run(x, ff, nullptr);
}

std::optional<at::Tensor> feed_forward_bf16_cpu(const at::Tensor& x, const FeedForwardWeights& ff,
                                                const NormAndResidual& around) {
  if (!applies(x, ff) || !applies(around, x.size(-1), ff.w2.size(0))) return std::nullopt;
  return run(x, ff, &around);
}

}  // namespace msaas::demucs
