// demucs/attention_cpu.cpp: see attention_cpu.h.
#include "demucs/attention_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include "demucs/backend.h"
#include "demucs/bf16_cpu.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {
namespace {

// Query rows per work item. Each block's two products pack the head's keys and values anew
// (OpenBLAS), so taller blocks pack them less often; the scores (kRows x Tk floats, 2.75 MB for
// 2688 keys) then live in the L3 cache rather than L2. Measured on htdemucs (30 s, AVX-512
// OpenBLAS): 64 rows 2.7-2.8 s of attention, 128 rows 2.5 s, 256 rows 2.25-2.35 s, 512 and
// 1024 rows 2.3-2.8 s. (Measured on the float32 path; fast mode's bfloat16 one packs the values
// once per call and was not measured apart.)
constexpr int64_t kRows = 256;

// One head of one batch item: T rows of d values, each row `stride` floats after the previous.
struct Head {
  float* data;
  int64_t rows, d, stride;
  // A plain (not inference-mode) view: the work runs on threads outside InferenceMode.
  at::Tensor view(int64_t r0, int64_t r1) const {
    return at::from_blob(data + r0 * stride, {r1 - r0, d}, {stride, 1}, at::kFloat);
  }
};

// exp(x) for x <= 0, to a few ulp: exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln 2 / 2,
// exp(r) by a degree-7 polynomial fitted for floats. Written as plain arithmetic so that the
// loops around it vectorise; NaN (from a score of +inf or NaN) stays NaN, as in ATen's softmax.
// Below -87 it gives 0: weights under 1.7e-38 next to the row's largest (1) change no sum, and
// the product need not multiply numbers that small (nor, in bfloat16, subnormal ones).
inline float exp_nonpositive(float x) {
  bool negligible = x < -87.0f;
  x = std::max(x, -87.0f);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer...
  float shifted = x * 1.44269504f + kRound;
  float n = shifted - kRound;
  // ...which its low bits then hold (no float-to-int conversion, undefined for NaN).
  uint32_t n_bits = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kRound);
  // ln 2 in two parts, the first exact in few bits, so that n * ln 2 loses nothing.
  float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  auto scale = std::bit_cast<float>((n_bits + 127u) << 23);  // 2^n, n >= -126
  return negligible ? 0.0f : p * scale;
}

// Softmax's numerators, row by row: each row becomes exp(x - its max) in place and `sums` gets
// its total. The division waits for the weighted values (d wide, not Tk). A row (10 KB for
// 2688 keys) is read from the L3 cache once and stays in L1 for its second pass, where ATen's
// softmax makes three passes over the whole block. With `rounded`, each row is also written
// there in bfloat16 while still in L1 (row r at rounded + r * rounded_stride, zero-padded).
MSAAS_VECTOR_CLONES
void exponentiate_rows(float* scores, int64_t rows, int64_t cols, float* sums,
                       uint16_t* rounded = nullptr, int64_t rounded_stride = 0) {
  for (int64_t r = 0; r < rows; ++r) {
    float* x = scores + r * cols;
    float most = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : most)
    for (int64_t j = 0; j < cols; ++j) most = x[j] > most ? x[j] : most;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) {
      float e = exp_nonpositive(x[j] - most);
      x[j] = e;
      sum += e;
    }
    sums[r] = sum;
    if (rounded) {
      round_to_bf16(x, rounded + r * rounded_stride, cols);
      std::fill(rounded + r * rounded_stride + cols, rounded + (r + 1) * rounded_stride, 0);
    }
  }
}

// Fast mode's values: each head's packed by pairs of rows in bfloat16 (bf16_cpu.h), once per
// call, for every block of its queries to read.
struct ValuePairs {
  std::vector<uint16_t> numbers;  // empty: float32 products
  const uint16_t* head(int64_t index, int64_t keys, int64_t d) const {
    return numbers.empty() ? nullptr : numbers.data() + index * bf16_depth(keys) * d;
  }
};

struct Scratch {
  std::vector<float> scores;      // a block's scores, then its weights, and their sums
  std::vector<uint16_t> rounded;  // the weights in bfloat16, in fast mode
};

// Rows [r0, r1) of one head. Inside parallel_for each BLAS product runs on the calling thread.
// With `value_pairs` (fast mode) the weights and values meet in bfloat16 with float32 sums.
void attend_block(const Head& q, const Head& k, const Head& v, const uint16_t* value_pairs,
                  const Head& y, int64_t r0, int64_t r1, Scratch& scratch) {
  int64_t rows = r1 - r0;
  scratch.scores.resize(rows * (k.rows + 1));
  float* sums = scratch.scores.data() + rows * k.rows;
  auto scores = at::from_blob(scratch.scores.data(), {rows, k.rows}, at::kFloat);
  at::mm_out(scores, q.view(r0, r1), k.view(0, k.rows).t());
  float* o = y.data + r0 * y.stride;
  if (value_pairs) {
    int64_t depth = bf16_depth(k.rows);
    scratch.rounded.resize(rows * depth);
    exponentiate_rows(scratch.scores.data(), rows, k.rows, sums, scratch.rounded.data(), depth);
    gemm_bf16(scratch.rounded.data(), depth, value_pairs, o, y.stride, rows, y.d, depth);
  } else {
    exponentiate_rows(scratch.scores.data(), rows, k.rows, sums);
    auto out = y.view(r0, r1);
    at::mm_out(out, scores, v.view(0, v.rows));
  }
  for (int64_t r = 0; r < rows; ++r) {
    float inverse = 1.0f / sums[r];
    for (int64_t c = 0; c < y.d; ++c) o[r * y.stride + c] *= inverse;
  }
}

}  // namespace

std::optional<at::Tensor> attention_cpu(const at::Tensor& query, const at::Tensor& key,
                                        const at::Tensor& value, int64_t heads,
                                        bool bf16_weighted_values) {
  for (const auto* t : {&query, &key, &value})
    if (!own_cpu_kernels_apply(*t)) return std::nullopt;
  // Heads are read in place wherever each row's values lie side by side.
  auto rows = [](const at::Tensor& t) { return t.stride(2) == 1 ? t : t.contiguous(); };
  auto q = rows(query), k = rows(key), v = rows(value);
  int64_t B = q.size(0), Tq = q.size(1), C = q.size(2), d = C / heads;
  int64_t blocks = (Tq + kRows - 1) / kRows;
  int64_t Tk = k.size(1);
  auto y = at::empty({B, Tq, C}, q.options());
  ValuePairs pairs;
  if (bf16_weighted_values && bf16_products_available()) {
    pairs.numbers.resize(B * heads * bf16_depth(Tk) * d);
    at::parallel_for(0, B * heads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const float* head = v.data_ptr<float>() + item / heads * v.stride(0) + item % heads * d;
        pack_bf16_pairs(head, Tk, d, v.stride(1), pairs.numbers.data() + item * bf16_depth(Tk) * d);
      }
    });
  }
  // Work items run head by head, so that neighbouring items share one head's keys and values.
  at::parallel_for(0, B * heads * blocks, 1, [&](int64_t begin, int64_t end) {
    Scratch scratch;
    for (int64_t item = begin; item < end; ++item) {
      int64_t b = item / (heads * blocks), h = item / blocks % heads, r0 = item % blocks * kRows;
      auto head = [&](const at::Tensor& t) {
        return Head{t.data_ptr<float>() + b * t.stride(0) + h * d, t.size(1), d, t.stride(1)};
      };
      attend_block(head(q), head(k), head(v), pairs.head(b * heads + h, Tk, d), head(y), r0,
                   std::min(Tq, r0 + kRows), scratch);
    }
  });
  return y;
}

}  // namespace msaas::demucs
