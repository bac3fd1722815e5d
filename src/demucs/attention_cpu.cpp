// demucs/attention_cpu.cpp: see attention_cpu.h.
#include "demucs/attention_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "demucs/backend.h"

namespace msaas::demucs {
namespace {

// Query rows per work item. Each block's two products pack the head's keys and values anew
// (OpenBLAS), so taller blocks pack them less often; the scores (kRows x Tk floats, 2.75 MB for
// 2688 keys) then live in the L3 cache rather than L2. Measured on htdemucs (30 s, AVX-512
// OpenBLAS): 64 rows 2.7-2.8 s of attention, 128 rows 2.5 s, 256 rows 2.25-2.35 s, 512 and
// 1024 rows 2.3-2.8 s.
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

// Rows [r0, r1) of one head. Inside parallel_for each ATen call (the BLAS products, the softmax)
// runs on the calling thread.
void attend_block(const Head& q, const Head& k, const Head& v, const Head& y, int64_t r0,
                  int64_t r1, std::vector<float>& scratch) {
  scratch.resize((r1 - r0) * k.rows);
  auto scores = at::from_blob(scratch.data(), {r1 - r0, k.rows}, at::kFloat);
  at::mm_out(scores, q.view(r0, r1), k.view(0, k.rows).t());
  at::_softmax_out(scores, scores, -1, false);
  auto out = y.view(r0, r1);
  at::mm_out(out, scores, v.view(0, v.rows));
}

}  // namespace

std::optional<at::Tensor> attention_cpu(const at::Tensor& query, const at::Tensor& key,
                                        const at::Tensor& value, int64_t heads) {
  for (const auto* t : {&query, &key, &value})
    if (!own_cpu_kernels_apply(*t)) return std::nullopt;
  // Heads are read in place wherever each row's values lie side by side.
  auto rows = [](const at::Tensor& t) { return t.stride(2) == 1 ? t : t.contiguous(); };
  auto q = rows(query), k = rows(key), v = rows(value);
  int64_t B = q.size(0), Tq = q.size(1), C = q.size(2), d = C / heads;
  int64_t blocks = (Tq + kRows - 1) / kRows;
  auto y = at::empty({B, Tq, C}, q.options());
  // Work items run head by head, so that neighbouring items share one head's keys and values.
  at::parallel_for(0, B * heads * blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch;
    for (int64_t item = begin; item < end; ++item) {
      int64_t b = item / (heads * blocks), h = item / blocks % heads, r0 = item % blocks * kRows;
      auto head = [&](const at::Tensor& t) {
        return Head{t.data_ptr<float>() + b * t.stride(0) + h * d, t.size(1), d, t.stride(1)};
      };
      attend_block(head(q), head(k), head(v), head(y), r0, std::min(Tq, r0 + kRows), scratch);
    }
  });
  return y;
}

}  // namespace msaas::demucs
