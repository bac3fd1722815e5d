// demucs/attention_cpu.cpp: see attention_cpu.h.
#include "demucs/attention_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "demucs/backend.h"
#include "demucs/bf16_cpu.h"
#include "demucs/exp_cpu.h"
#include "demucs/f32_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/unfilled_buffer.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {
namespace {

// Query rows per work item. When OpenBLAS ran both products it packed the head's keys and values
// anew for each block, so taller blocks packed them less often; the scores (kRows x Tk floats,
// 2.75 MB for 2688 keys) then live in the L3 cache rather than L2. Measured then on htdemucs (30
// s, AVX-512 OpenBLAS): 64 rows 2.7-2.8 s of attention, 128 rows 2.5 s, 256 rows 2.25-2.35 s, 512
// and 1024 rows 2.3-2.8 s. Since the keys (and in fast mode the values) are laid out once per
// call, only the values on a CPU without AVX-512F are packed per block; 256 was not measured again.
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
    if (rounded) round_rows_to_bf16(x, cols, 1, cols, rounded + r * rounded_stride, rounded_stride);
  }
}

// A call's keys and values laid out once per head, for every block of its queries to read
// (OpenBLAS would pack them again for each block). Float32 products: each head's keys transposed
// (d rows of Tk) and its values as contiguous rows (Tk rows of d: read in place, 4-6 KB apart,
// gemm_f32 ran 10-20 % slower) for gemm_f32. Fast mode: keys transposed and values, by pairs of
// rows in bfloat16 for gemm_bf16. Nothing where the CPU has neither kernel (both products then
// run on BLAS).
struct HeadLayouts {
  bool bf16 = false;
  int64_t keys = 0, d = 0;
  UnfilledBuffer<float> key_columns, value_rows;  // filled whole by lay_out_heads
  UnfilledBuffer<uint16_t> key_pairs, value_pairs;

  const float* columns(int64_t head) const {
    return key_columns.empty() ? nullptr : key_columns.data() + head * keys * d;
  }
  const float* values(int64_t head) const { return value_rows.data() + head * keys * d; }
  const uint16_t* keys_bf16(int64_t head) const {
    return key_pairs.data() + head * bf16_depth(d) * keys;
  }
  const uint16_t* values_bf16(int64_t head) const {
    return value_pairs.data() + head * bf16_depth(keys) * d;
  }
};

struct Scratch {
  std::vector<float> scores;      // a block's scores, then its weights, and their sums
  std::vector<uint16_t> queries;  // fast mode: the block's queries in bfloat16
  std::vector<uint16_t> rounded;  // fast mode: the weights in bfloat16
};

// The block's scores, rows x Tk, into `scores`.
void score_block(const Head& q, const Head& k, const HeadLayouts& layouts, int64_t head, int64_t r0,
                 int64_t rows, Scratch& scratch) {
  float* scores = scratch.scores.data();
  if (layouts.bf16) {
    int64_t depth = bf16_depth(q.d);
    scratch.queries.resize(rows * depth);
    round_rows_to_bf16(q.data + r0 * q.stride, q.stride, rows, q.d, scratch.queries.data(), depth);
    gemm_bf16(scratch.queries.data(), depth, layouts.keys_bf16(head), scores, k.rows, rows, k.rows,
              depth);
  } else if (const float* columns = layouts.columns(head)) {
    gemm_f32(q.data + r0 * q.stride, q.stride, columns, k.rows, scores, k.rows, rows, k.rows, q.d);
  } else {
    auto out = at::from_blob(scores, {rows, k.rows}, at::kFloat);
    at::mm_out(out, q.view(r0, r0 + rows), k.view(0, k.rows).t());
  }
}

// Rows [r0, r1) of one head. Inside the parallel loop each product runs on the calling thread.
void attend_block(const Head& q, const Head& k, const Head& v, const HeadLayouts& layouts,
                  int64_t head, const Head& y, int64_t r0, int64_t r1, Scratch& scratch) {
  int64_t rows = r1 - r0;
  scratch.scores.resize(rows * (k.rows + 1));
  float* sums = scratch.scores.data() + rows * k.rows;
  score_block(q, k, layouts, head, r0, rows, scratch);
  float* o = y.data + r0 * y.stride;
  if (layouts.bf16) {
    int64_t depth = bf16_depth(k.rows);
    scratch.rounded.resize(rows * depth);
    exponentiate_rows(scratch.scores.data(), rows, k.rows, sums, scratch.rounded.data(), depth);
    gemm_bf16(scratch.rounded.data(), depth, layouts.values_bf16(head), o, y.stride, rows, y.d,
              depth);
  } else if (layouts.columns(head)) {
    exponentiate_rows(scratch.scores.data(), rows, k.rows, sums);
    gemm_f32(scratch.scores.data(), k.rows, layouts.values(head), v.d, o, y.stride, rows, y.d,
             k.rows);
  } else {
    exponentiate_rows(scratch.scores.data(), rows, k.rows, sums);
    auto scores = at::from_blob(scratch.scores.data(), {rows, k.rows}, at::kFloat);
    auto out = y.view(r0, r1);
    at::mm_out(out, scores, v.view(0, v.rows));
  }
  for (int64_t r = 0; r < rows; ++r) {
    float inverse = 1.0f / sums[r];
    for (int64_t c = 0; c < y.d; ++c) o[r * y.stride + c] *= inverse;
  }
}

// Lays out every head's keys (and in fast mode values) for `layouts`, the heads split over the
// threads.
void lay_out_heads(const at::Tensor& k, const at::Tensor& v, int64_t heads, bool bf16,
                   HeadLayouts& layouts) {
  int64_t items = k.size(0) * heads, Tk = k.size(1), d = k.size(2) / heads;
  layouts.keys = Tk, layouts.d = d;
  layouts.bf16 = bf16 && bf16_products_available();
  if (layouts.bf16) {
    layouts.key_pairs.allocate(items * bf16_depth(d) * Tk);
    layouts.value_pairs.allocate(items * bf16_depth(Tk) * d);
  } else if (f32_products_available()) {
    layouts.key_columns.allocate(items * Tk * d);
    layouts.value_rows.allocate(items * Tk * d);
  } else {
    return;
  }
  auto head_of = [&](const at::Tensor& t, int64_t item) {
    return t.data_ptr<float>() + item / heads * t.stride(0) + item % heads * d;
  };
  at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const float* keys = head_of(k, item);
      if (layouts.bf16) {
        pack_bf16_pairs_transposed(keys, d, Tk, k.stride(1),
                                   layouts.key_pairs.data() + item * bf16_depth(d) * Tk);
        pack_bf16_pairs(head_of(v, item), Tk, d, v.stride(1),
                        layouts.value_pairs.data() + item * bf16_depth(Tk) * d);
      } else {
        float* columns = layouts.key_columns.data() + item * Tk * d;
        for (int64_t t = 0; t < Tk; ++t)
          for (int64_t c = 0; c < d; ++c) columns[c * Tk + t] = keys[t * k.stride(1) + c];
        const float* values = head_of(v, item);
        float* rows = layouts.value_rows.data() + item * Tk * d;
        for (int64_t t = 0; t < Tk; ++t)
          std::copy(values + t * v.stride(1), values + t * v.stride(1) + d, rows + t * d);
      }
    }
  });
}

}  // namespace

std::optional<at::Tensor> attention_cpu(const at::Tensor& query, const at::Tensor& key,
                                        const at::Tensor& value, int64_t heads,
                                        bool bf16_products) {
  for (const auto* t : {&query, &key, &value})
    if (!own_cpu_kernels_apply(*t)) return std::nullopt;
  // Heads are read in place wherever each row's values lie side by side.
  auto rows = [](const at::Tensor& t) { return t.stride(2) == 1 ? t : t.contiguous(); };
  auto q = rows(query), k = rows(key), v = rows(value);
  int64_t B = q.size(0), Tq = q.size(1), C = q.size(2), d = C / heads;
  int64_t blocks = (Tq + kRows - 1) / kRows;
  auto y = at::empty({B, Tq, C}, q.options());
  HeadLayouts layouts;
  lay_out_heads(k, v, heads, bf16_products, layouts);
  // Work items run head by head, so that the items running at once share one head's keys and
  // values.
  parallel_items<Scratch>(B * heads * blocks, [&](Scratch& scratch, int64_t item) {
    int64_t b = item / (heads * blocks), h = item / blocks % heads, r0 = item % blocks * kRows;
    auto head = [&](const at::Tensor& t) {
      return Head{t.data_ptr<float>() + b * t.stride(0) + h * d, t.size(1), d, t.stride(1)};
    };
    attend_block(head(q), head(k), head(v), layouts, b * heads + h, head(y), r0,
                 std::min(Tq, r0 + kRows), scratch);
  });
  return y;
}

}  // namespace msaas::demucs
