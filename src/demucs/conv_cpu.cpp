// demucs/conv_cpu.cpp: see conv_cpu.h. Work is cut in chunks of the strided axis sized for a
// core's cache, shared over the threads as they go (parallel_items.h); inside the parallel loop
// each BLAS call runs on the calling thread.
#include "demucs/conv_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "demucs/backend.h"
#include "demucs/bf16_cpu.h"
#include "demucs/f32_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/pointwise_cpu.h"
#include "demucs/unfold_conv_cpu.h"
#include "demucs/vector_clones.h"
#include "demucs/weight_product_cpu.h"
#include "demucs/winograd_cpu.h"

namespace msaas::demucs {
namespace {

constexpr int64_t kChunkBytes = 1 << 20;  // one chunk's working matrix: about a core's L2

// The deepest convolution (Cin * K) run by unfold_conv_cpu rather than oneDNN.
constexpr int64_t kMaxUnfoldDepth = 256;

// Rows of `bytes_per_row` bytes per chunk, at least one.
int64_t chunk_rows(int64_t bytes_per_row, int64_t rows) {
  return std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(1, bytes_per_row), 1, rows);
}

// out[b] = weight [Cout, Cin] @ x[b] [Cin, N] + bias: on the engine's float32 kernel where the
// CPU has AVX-512F (pointwise_cpu.h), else BLAS.
at::Tensor pointwise(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (auto y = pointwise_conv_cpu(x, weight.to(at::kFloat), bias)) return *y;
  int64_t B = x.size(0), Cin = x.size(1), Cout = weight.size(0);
  auto shape = x.sizes().vec();
  shape[1] = Cout;
  auto y = at::empty(shape, x.options());
  auto w = weight.to(at::kFloat).view({Cout, Cin});
  auto in = x.contiguous().view({B, Cin, -1});
  auto out = y.view({B, Cout, -1});
  for (int64_t b = 0; b < B; ++b) {
    auto ob = out[b];
    if (bias.defined())
      at::addmm_out(ob, bias.unsqueeze(1), w, in[b]);
    else
      at::mm_out(ob, w, in[b]);
  }
  return y;
}

// out[S * f + k][t] += y[k][f][t] for one output channel: the overlap-add of a chunk. `omp simd`
// and -O3 (src/CMakeLists.txt): GCC had left it scalar (docs/benchmarks.md, point 27).
MSAAS_VECTOR_CLONES
void overlap_add(const float* y, int64_t rows, int64_t K, int64_t S, int64_t T, float* out) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t f = 0; f < rows; ++f) {
      const float* src = y + (k * rows + f) * T;
      float* dst = out + (S * f + k) * T;
#pragma omp simd
      for (int64_t t = 0; t < T; ++t) dst[t] += src[t];
    }
}

// A thread's scratch for transposed(): a chunk's product and its packed columns (fast mode).
struct ChunkScratch {
  std::vector<float> product;
  std::vector<uint16_t> pairs;
};

// out[S * f + k] += w[k]^T x[f] for every input row f: one product per chunk of input rows,
// into a buffer K times the chunk, then the overlap-add. Neighbouring chunks share K - S output
// rows, so even chunks go first and odd ones after: no two threads add to the same row.
at::Tensor transposed(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                      int64_t S, bool bf16_products) {
  auto in = x.contiguous();
  int64_t B = in.size(0), Cin = in.size(1), L = in.size(2), T = in.dim() == 4 ? in.size(3) : 1;
  int64_t Cout = weight.size(1), K = weight.size(2), Lout = S * (L - 1) + K;
  // Row (co, k) of the product holds what input row f gives to output row S * f + k.
  WeightProduct times_weight(weight.to(at::kFloat).reshape({Cin, Cout * K}).t(), bf16_products);
  auto shape = in.sizes().vec();
  shape[1] = Cout, shape[2] = Lout;
  auto out = at::empty(shape, in.options());
  auto planes = out.view({B * Cout, Lout * T});
  if (bias.defined())
    planes.copy_(bias.to(at::kFloat).repeat({B}).unsqueeze(1).expand_as(planes));
  else
    planes.zero_();
  int64_t rows = chunk_rows(Cout * K * T * 4, L), chunks = (L + rows - 1) / rows;
  for (int64_t b = 0; b < B; ++b) {
    auto input = in[b].view({Cin, L * T});
    float* plane = out.data_ptr<float>() + b * Cout * Lout * T;
    for (int64_t parity = 0; parity < 2; ++parity) {
      parallel_items<ChunkScratch>((chunks - parity + 1) / 2, [&](ChunkScratch& s, int64_t i) {
        int64_t f0 = (2 * i + parity) * rows, n = std::min(rows, L - f0);
        s.product.resize(Cout * K * n * T);
        times_weight(input.data_ptr<float>() + f0 * T, L * T, n * T, s.product.data(), n * T,
                     s.pairs);
        for (int64_t co = 0; co < Cout; ++co)
          overlap_add(s.product.data() + co * K * n * T, n, K, S, T,
                      plane + (co * Lout + S * f0) * T);
      });
    }
  }
  return out;
}

}  // namespace

std::optional<at::Tensor> conv_cpu(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias, at::IntArrayRef stride,
                                   at::IntArrayRef padding, at::IntArrayRef dilation,
                                   bool is_transposed, bool bf16_products) {
  if (!own_cpu_kernels_apply(x)) return std::nullopt;
  bool fast_mode = bf16_products;
  bf16_products = bf16_products && bf16_products_available();
  if ((x.dim() != 3 && x.dim() != 4) || weight.dim() != x.dim()) return std::nullopt;
  auto at_or = [](at::IntArrayRef v, size_t i, int64_t fallback) {
    return i < v.size() ? v[i] : fallback;
  };
  if (x.dim() == 4 && !is_transposed && is_plain_3x3(weight, stride, padding, dilation))
    return winograd_conv3x3(x, weight, bias, bf16_products);
  // The exact mode's 3-tap ones (the time decoders' rewrites) by Winograd F(4, 3): half the
  // products of oneDNN's or the unfolded columns' (docs/benchmarks.md, point 35).
  if (x.dim() == 3 && !is_transposed && !fast_mode &&
      is_plain_3tap(weight, stride, padding, dilation))
    if (auto y = winograd_conv3tap(x, weight, bias)) return y;
  // Only the first spatial axis may stride, pad or span more than one step.
  if (x.dim() == 4 && (weight.size(3) != 1 || at_or(stride, 1, 1) != 1 ||
                       at_or(padding, 1, 0) != 0 || at_or(dilation, 1, 1) != 1))
    return std::nullopt;
  int64_t S = at_or(stride, 0, 1), P = at_or(padding, 0, 0), K = weight.size(2);
  if (at_or(dilation, 0, 1) != 1 || S < 1) return std::nullopt;
  if (is_transposed) {
    if (x.size(1) != weight.size(0) || P != 0 || K > 2 * S) return std::nullopt;
    return transposed(x, weight, bias, S, bf16_products);
  }
  if (x.size(1) != weight.size(1) || P < 0 || x.size(2) + 2 * P < K) return std::nullopt;
  if (K == 1 && S == 1 && P == 0) {
    // Fast mode keeps these in float32: from bfloat16 factors they cost a stem 0.30 dB
    // of the evaluation set, for 3 % of the time (docs/benchmarks.md, point 26).
    return pointwise(x, weight, bias);
  }
  // The exact mode's other shallow convolutions along one axis (htdemucs' outer strided
  // encoders, Cin * K 16 and 32), on the float32 kernel: oneDNN runs those at 16-34 GFLOP/s on 2
  // threads, this at 66-160; the deeper ones it runs at 170-220, as fast as this or faster
  // (docs/benchmarks.md, point 33). Fast mode keeps autocast's (oneDNN's
  // bfloat16: these in float32 gained nothing there), and so does a CPU without AVX-512F.
  if (fast_mode || !f32_products_available() || x.size(1) * K > kMaxUnfoldDepth)
    return std::nullopt;
  // Empty shapes and a bias of the wrong length: ATen's, with its own answer or message.
  if (x.numel() == 0 || weight.numel() == 0) return std::nullopt;
  if (bias.defined() && (!bias.is_cpu() || bias.numel() != weight.size(0))) return std::nullopt;
  return unfold_conv_cpu(x, weight, bias, S, P);
}

}  // namespace msaas::demucs
