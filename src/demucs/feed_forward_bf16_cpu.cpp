// demucs/feed_forward_bf16_cpu.cpp: see feed_forward_bf16_cpu.h.
#include "demucs/feed_forward_bf16_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "demucs/backend.h"
#include "demucs/bf16_cpu.h"
#include "demucs/exp_cpu.h"
#include "demucs/int8_cpu.h"
#include "demucs/linear_bf16_cpu.h"
#include "demucs/linear_int8_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/unfilled_buffer.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {
namespace {

// Tokens per work item: the hidden layer's block, 48 x 2,048 floats (384 KB) and its bfloat16
// copy (192 KB), stays in a core's L2 between the two products.
constexpr int64_t kRows = 48;

// One thread's blocks, kept over its work items.
struct BlockScratch {
  std::vector<float> normed, hidden, token_scales, hidden_scales;
  std::vector<uint16_t> tokens, hidden_bf16;
  std::vector<uint8_t> tokens_u8, hidden_u8;
};

// Both layers' weights as one kind of product takes them: bfloat16 pairs or int8 quads.
struct PackedWeights {
  UnfilledBuffer<uint16_t> pairs1, pairs2;
  Int8Weight quads1, quads2;
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

// h = activation(h + bias) over n floats; bias nullptr where the product added it already.
MSAAS_VECTOR_CLONES
void activate(float* h, const float* bias, int64_t n, Activation activation) {
  if (!bias) {
    if (activation == Activation::gelu) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) h[j] = gelu(h[j]);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) h[j] = std::max(h[j], 0.0f);  // NaN stays NaN
    }
  } else if (activation == Activation::gelu) {
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
  bool kernel = ff.int8 ? int8_products_available() : bf16_products_available();
  if (!kernel || !own_cpu_kernels_apply(x) || x.dim() < 1 || x.size(-1) == 0) return false;
  int64_t in = x.size(-1);
  if (!is_matrix(ff.w1, in) || !is_vector(ff.b1, ff.w1.size(0))) return false;
  if (!is_matrix(ff.w2, ff.w1.size(0)) || !is_vector(ff.b2, ff.w2.size(0))) return false;
  return !ff.int8 || (in <= kMaxInt8Depth && ff.w1.size(0) <= kMaxInt8Depth);
}

bool applies(const NormAndResidual& around, int64_t in, int64_t out) {
  return in == out && is_vector(around.norm_weight, in) && is_vector(around.norm_bias, in) &&
         (!around.gamma.defined() || is_vector(around.gamma, out));
}

const float* values(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<float>() : nullptr;
}

// The block's two products for `rows` tokens (in: rows x ff's input width), bfloat16 factors:
// out = linear2(activation(linear1(in))), b2 nullptr to leave out the second bias.
void block_products_bf16(const float* in, int64_t rows, const FeedForwardWeights& ff,
                         const PackedWeights& packed, const float* b1, const float* b2,
                         BlockScratch& s, float* out) {
  int64_t width_in = ff.w1.size(1), hidden = ff.w1.size(0), width = ff.w2.size(0);
  int64_t in_depth = bf16_depth(width_in), hidden_depth = bf16_depth(hidden);
  s.tokens.resize(kRows * in_depth);
  s.hidden.resize(kRows * hidden);
  s.hidden_bf16.resize(kRows * hidden_depth);
  round_rows_to_bf16(in, width_in, rows, width_in, s.tokens.data(), in_depth);
  gemm_bf16(s.tokens.data(), in_depth, packed.pairs1.data(), s.hidden.data(), hidden, rows, hidden,
            in_depth);
  for (int64_t r = 0; r < rows; ++r) activate(&s.hidden[r * hidden], b1, hidden, ff.activation);
  round_rows_to_bf16(s.hidden.data(), hidden, rows, hidden, s.hidden_bf16.data(), hidden_depth);
  gemm_bf16(s.hidden_bf16.data(), hidden_depth, packed.pairs2.data(), out, width, rows, width,
            hidden_depth);
  add_bias_to_rows(out, rows, width, b2);
}

// The same with int8 factors, each token and hidden row on a scale of its own; the biases added
// by the products.
void block_products_int8(const float* in, int64_t rows, const FeedForwardWeights& ff,
                         const PackedWeights& packed, const float* b1, const float* b2,
                         BlockScratch& s, float* out) {
  const Int8Weight &w1 = packed.quads1, &w2 = packed.quads2;
  int64_t hidden = w1.n;
  s.tokens_u8.resize(kRows * w1.depth);
  s.hidden.resize(kRows * hidden);
  s.hidden_u8.resize(kRows * w2.depth);
  s.token_scales.resize(kRows);
  s.hidden_scales.resize(kRows);
  quantize_rows_u8(in, w1.k, rows, w1.k, s.tokens_u8.data(), w1.depth, s.token_scales.data());
  gemm_u8s8(s.tokens_u8.data(), w1.depth, s.token_scales.data(), w1, b1, s.hidden.data(), hidden,
            rows);
  for (int64_t r = 0; r < rows; ++r)
    activate(&s.hidden[r * hidden], nullptr, hidden, ff.activation);
  quantize_rows_u8(s.hidden.data(), hidden, rows, hidden, s.hidden_u8.data(), w2.depth,
                   s.hidden_scales.data());
  gemm_u8s8(s.hidden_u8.data(), w2.depth, s.hidden_scales.data(), w2, b2, out, w2.n, rows);
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
  int64_t m = tokens.size(0), in = tokens.size(1), width = ff.w2.size(0);
  PackedWeights packed;
  if (ff.int8) {
    packed.quads1 = quantize_weight_int8(ff.w1.contiguous());
    packed.quads2 = quantize_weight_int8(ff.w2.contiguous());
  } else {
    packed.pairs1 = pack_weight_bf16(ff.w1.contiguous());
    packed.pairs2 = pack_weight_bf16(ff.w2.contiguous());
  }
  auto y = at::empty({m, width}, tokens.options());
  const float* tokens_in = tokens.data_ptr<float>();
  float* out = y.data_ptr<float>();
  float eps = around ? static_cast<float>(around->eps) : 0.0f;
  parallel_items<BlockScratch>((m + kRows - 1) / kRows, [&](BlockScratch& s, int64_t block) {
    int64_t r0 = block * kRows, rows = std::min(m, r0 + kRows) - r0;
    const float* block_in = tokens_in + r0 * in;
    const float* products_in = block_in;
    if (around) {
      s.normed.resize(kRows * in);
      for (int64_t r = 0; r < rows; ++r)
        layer_norm_row(block_in + r * in, in, values(norm_weight), values(norm_bias), eps,
                       &s.normed[r * in]);
      products_in = s.normed.data();
    }
    float* block_out = out + r0 * width;
    // The second layer's bias: added by the product, or with the residual sum.
    const float* b2_in_product = around ? nullptr : values(b2);
    if (ff.int8)
      block_products_int8(products_in, rows, ff, packed, values(b1), b2_in_product, s, block_out);
    else
      block_products_bf16(products_in, rows, ff, packed, values(b1), b2_in_product, s, block_out);
    if (around)
      for (int64_t r = 0; r < rows; ++r)
        add_residual(block_in + r * in, values(b2), values(gamma), width, block_out + r * width);
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
