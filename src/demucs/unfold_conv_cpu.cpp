// demucs/unfold_conv_cpu.cpp: see unfold_conv_cpu.h.
#include "demucs/unfold_conv_cpu.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "demucs/parallel_items.h"
#include "demucs/weight_product_cpu.h"

namespace msaas::demucs {
namespace {

// A work item's unfolded columns: at most about a core's L2 cache (Cin * K rows of its
// positions), at least one output row of T positions.
constexpr int64_t kColumnBytes = 1 << 20;
// ... and at most this many positions, so that the shallow first layer (Cin * K = 16) still
// makes dozens of items for the threads to share.
constexpr int64_t kMaxPositions = 2048;

struct Shape {
  int64_t B, Cin, L, T, Cout, K, S, P, Lout;
};

int64_t ceil_div(int64_t a, int64_t b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// Rows [j0, j1) of the output (each T wide) need input rows j * S + k - P: copied as row c * K + k
// of `columns` (n = (j1 - j0) * T floats each), zeros where they fall in the padding.
void unfold(const Shape& s, const float* x, int64_t j0, int64_t j1, float* columns) {
  int64_t n = (j1 - j0) * s.T;
  for (int64_t k = 0; k < s.K; ++k) {
    // Output rows [first, last) read inside the input for this tap; the rest read padding.
    int64_t offset = k - s.P;
    int64_t first = std::clamp(ceil_div(-offset, s.S), j0, j1);
    int64_t last = std::clamp(ceil_div(s.L - offset, s.S), first, j1);
    for (int64_t c = 0; c < s.Cin; ++c) {
      float* row = columns + (c * s.K + k) * n;
      const float* channel = x + c * s.L * s.T;
      std::fill(row, row + (first - j0) * s.T, 0.0f);
      std::fill(row + (last - j0) * s.T, row + n, 0.0f);
      float* dst = row + (first - j0) * s.T;
      if (s.T > 1) {
        for (int64_t j = first; j < last; ++j, dst += s.T)
          std::memcpy(dst, channel + (j * s.S + offset) * s.T, s.T * sizeof(float));
      } else {
        const float* src = channel + first * s.S + offset;
        for (int64_t j = 0; j < last - first; ++j) dst[j] = src[j * s.S];
      }
    }
  }
}

struct Scratch {
  std::vector<float> columns;
  std::vector<uint16_t> pairs;
};

}  // namespace

at::Tensor unfold_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           int64_t S, int64_t P) {
  auto in = x.contiguous();
  Shape s{in.size(0),
          in.size(1),
          in.size(2),
          in.dim() == 4 ? in.size(3) : 1,
          weight.size(0),
          weight.size(2),
          S,
          P,
          0};
  s.Lout = (s.L + 2 * P - s.K) / S + 1;
  auto shape = in.sizes().vec();
  shape[1] = s.Cout, shape[2] = s.Lout;
  auto out = at::empty(shape, in.options());
  // Row o of the product is output channel o: weight[o] laid out as (c, k), which is how the
  // unfolded rows are ordered.
  WeightProduct times_weight(weight.to(at::kFloat).reshape({s.Cout, s.Cin * s.K}), false);
  auto b = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
  const float* bias_values = b.defined() ? b.data_ptr<float>() : nullptr;
  int64_t depth = s.Cin * s.K;
  int64_t rows = std::clamp<int64_t>(
      std::min(kColumnBytes / (depth * s.T * 4), kMaxPositions / s.T), 1, s.Lout);
  int64_t blocks = (s.Lout + rows - 1) / rows, plane = s.Lout * s.T;
  parallel_items<Scratch>(s.B * blocks, [&](Scratch& scratch, int64_t item) {
    int64_t batch = item / blocks, j0 = item % blocks * rows, j1 = std::min(s.Lout, j0 + rows);
    int64_t n = (j1 - j0) * s.T;
    scratch.columns.resize(depth * n);
    unfold(s, in.data_ptr<float>() + batch * s.Cin * s.L * s.T, j0, j1, scratch.columns.data());
    float* o = out.data_ptr<float>() + batch * s.Cout * plane + j0 * s.T;
    times_weight(scratch.columns.data(), n, n, o, plane, scratch.pairs);
    if (bias_values)
      for (int64_t co = 0; co < s.Cout; ++co)
        for (int64_t t = 0; t < n; ++t) o[co * plane + t] += bias_values[co];
  });
  return out;
}

}  // namespace msaas::demucs
