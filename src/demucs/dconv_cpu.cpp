// demucs/dconv_cpu.cpp: see dconv_cpu.h. Built with -O3 -fopenmp-simd (src/CMakeLists.txt); the
// per-sequence work is compiled for AVX-512, AVX2 and plain x86-64, picked when the program starts.
// conv_in runs on WeightProduct (BLAS, or bfloat16 factors in fast mode), conv_out on f32_cpu.h's
// kernel where the CPU has AVX-512F (else ATen's mm).
#include "demucs/dconv_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "demucs/exp_cpu.h"
#include "demucs/f32_cpu.h"
#include "demucs/group_norm_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/unfilled_buffer.h"
#include "demucs/vector_clones.h"
#include "demucs/weight_product_cpu.h"

namespace msaas::demucs {
namespace {

constexpr int64_t kChunk = 2048;            // time steps per work item when one sequence is long
constexpr int64_t kChunksRoundedTo = 8;     // a long sequence's chunks: a multiple of this
constexpr int64_t kShortPathSequences = 8;  // fewer rows run as long sequences, chunked in time

// C channels of a sequence, channel c starting at data + c * stride.
struct Rows {
  float* data;
  int64_t stride;
  float* row(int64_t c) const { return data + c * stride; }
};

// GroupNorm(1, channels)'s affine (group_norm_cpu.h), applied to channel-major rows.
struct Affine : NormAffine {
  using NormAffine::NormAffine;
  // Makes it apply to inputs missing `offset` (per channel): (x + o) * a + b = x * a + (b + a * o).
  void fold_input_offset(const at::Tensor& offset) {
    TORCH_CHECK(offset.numel() == static_cast<int64_t>(b.size()), "dconv_cpu: offset size");
    const float* o = offset.data_ptr<float>();
    for (size_t c = 0; c < b.size(); ++c) b[c] += a[c] * o[c];
  }
  MSAAS_VECTOR_CLONES
  void apply(Rows x, int64_t channels, int64_t n) const {
    for (int64_t c = 0; c < channels; ++c) {
      float* p = x.row(c);
      for (int64_t t = 0; t < n; ++t) p[t] = p[t] * a[c] + b[c];
    }
  }
};

// A thread's scratch for its work items: the taps' products, the hidden layer's values (whole
// sequences only), the 1x1 output and (fast mode) conv_in's right factor, packed.
struct Scratch {
  std::vector<float> z, u, h;
  std::vector<uint16_t> pairs;
  Rows taps(const DConvBranch& br, int64_t n) {
    z.resize(br.conv_in_weight.size(0) * n);
    return {z.data(), n};
  }
  Rows wide(const DConvBranch& br, int64_t n) {
    u.resize(br.conv_out_bias.numel() * n);
    return {u.data(), n};
  }
  Rows hidden(const DConvBranch& br, int64_t n) {
    h.resize(br.conv_in_bias.numel() * n);
    return {h.data(), n};
  }
};

// conv_in for the steps [t0, t1) of one sequence of T steps, from z = (taps x hidden, C) @ x
// over the columns [lo, hi) (which hold every step the taps reach):
// h[o][t - t0] = bias[o] + sum over k of z[k * hidden + o][t + k * dilation - padding - lo].
MSAAS_VECTOR_CLONES
void gather_taps(const DConvBranch& br, Rows z, int64_t lo, int64_t T, int64_t t0, int64_t t1,
                 Rows h) {
  int64_t hidden = br.conv_in_bias.numel(), K = br.conv_in_weight.size(0) / hidden;
  const float* bias = br.conv_in_bias.data_ptr<float>();
  for (int64_t o = 0; o < hidden; ++o) {
    float* out = h.row(o);
    std::fill(out, out + (t1 - t0), bias[o]);
    for (int64_t k = 0; k < K; ++k) {
      int64_t off = k * br.dilation - br.padding;
      int64_t from = std::max(t0, -off), to = std::min(t1, T - off);
      const float* src = z.row(k * hidden + o) + off - lo;
      float* dst = out - t0;
      for (int64_t t = from; t < to; ++t) dst[t] += src[t];
    }
  }
}

// The columns conv_in reads for the steps [t0, t1).
std::pair<int64_t, int64_t> reach(const DConvBranch& br, int64_t T, int64_t t0, int64_t t1) {
  int64_t K = br.conv_in_weight.size(0) / br.conv_in_bias.numel();
  return {std::max<int64_t>(0, t0 - br.padding),
          std::min(T, t1 + (K - 1) * br.dilation - br.padding)};
}

// ATen's view of channels x n numbers of x, for its GELU and matrix product.
at::Tensor view(Rows x, int64_t channels, int64_t n) {
  return at::from_blob(x.data, {channels, n}, {x.stride, 1}, at::kFloat);
}

// u = conv_out(h) for n steps without its bias (add_bias_and_measure() adds it): the 1x1
// convolution as one matrix product, on the calling thread. Its depth is the hidden width (6 to 48
// on htdemucs), too thin for OpenBLAS, which packs both factors on every call; f32_cpu.h's kernel
// reads them in place (docs/benchmarks.md, point 27). Without AVX-512F, ATen's mm.
void conv_out_unbiased(const DConvBranch& br, Rows h, int64_t n, Rows u) {
  const at::Tensor& w = br.conv_out_weight;
  int64_t outs = w.size(0), hidden = w.size(1);
  if (f32_products_available()) {
    gemm_f32(w.data_ptr<float>(), hidden, h.data, h.stride, u.data, u.stride, outs, n, hidden);
    return;
  }
  auto ut = view(u, outs, n);
  at::mm_out(ut, w, view(h, hidden, n));
}

Moments moments(Rows x, int64_t channels, int64_t n) {
  Moments m;
  for (int64_t c = 0; c < channels; ++c) m.add(x.row(c), n);
  return m;
}

// Adds conv_out's bias to u in place and returns the moments of the result (norm_out's
// statistics).
MSAAS_VECTOR_CLONES
Moments add_bias_and_measure(const DConvBranch& br, Rows u, int64_t n) {
  const float* bias = br.conv_out_bias.data_ptr<float>();
  int64_t channels = br.conv_out_bias.numel();
  for (int64_t c = 0; c < channels; ++c) {
    float* p = u.row(c);
    float b = bias[c];
    for (int64_t t = 0; t < n; ++t) p[t] += b;
  }
  return moments(u, channels, n);
}

// The hidden layer's activation: ATen's GELU in the exact mode, exp_cpu.h's in fast mode (within
// 2.2e-7 plus an ulp of it; ATen's, called on each item's small block, took up to 4 % of a fast
// run), or ReLU.
enum class HiddenActivation { aten_gelu, own_gelu, relu };

MSAAS_VECTOR_CLONES
void own_gelu(Rows h, int64_t channels, int64_t n) {
  for (int64_t c = 0; c < channels; ++c) {
    float* p = h.row(c);
#pragma omp simd
    for (int64_t t = 0; t < n; ++t) p[t] = gelu(p[t]);
  }
}

// Inside the parallel loop ATen's run on the calling thread.
void activate(Rows h, int64_t channels, int64_t n, HiddenActivation activation) {
  if (activation == HiddenActivation::own_gelu) return own_gelu(h, channels, n);
  auto t = view(h, channels, n);
  activation == HiddenActivation::aten_gelu ? at::gelu_(t) : at::relu_(t);
}

// dst[c][t] = src[c][t] + scale[c] * (u[c][t] * sigmoid(u[C + c][t])): the GLU, LayerScale and
// residual sum in one pass. dst may be src.
MSAAS_VECTOR_CLONES
void finish(const DConvBranch& br, Rows src, Rows u, int64_t n, Rows dst) {
  int64_t C = br.scale.numel();
  const float* scale = br.scale.data_ptr<float>();
  for (int64_t c = 0; c < C; ++c) {
    const float *a = u.row(c), *g = u.row(C + c), *s = src.row(c);
    float* d = dst.row(c);
    float k = scale[c];
#pragma omp simd
    for (int64_t t = 0; t < n; ++t) d[t] = s[t] + k * (a[t] * sigmoid(g[t]));
  }
}

// `count` whole sequences of T steps lying side by side in memory (neighbouring frequency rows),
// on one thread: one matrix product per convolution for all of them, everything in the cache.
void run_sequences(const std::vector<DConvBranch>& branches,
                   const std::vector<WeightProduct>& conv_in, HiddenActivation activation, Rows x,
                   Rows out, int64_t count, int64_t T, Scratch& scratch) {
  int64_t n = count * T;
  Rows src = x;
  for (size_t i = 0; i < branches.size(); ++i) {
    const DConvBranch& br = branches[i];
    int64_t hidden = br.conv_in_bias.numel(), outs = br.conv_out_bias.numel();
    Rows z = scratch.taps(br, n), u = scratch.wide(br, n), h = scratch.hidden(br, n);
    conv_in[i](src.data, src.stride, n, z.data, z.stride, scratch.pairs);
    for (int64_t s = 0; s < count; ++s) {
      Rows hs{h.data + s * T, n};
      gather_taps(br, Rows{z.data + s * T, n}, 0, T, 0, T, hs);
      Affine(moments(hs, hidden, T), br.norm_in_weight, br.norm_in_bias, br.eps)
          .apply(hs, hidden, T);
    }
    activate(h, hidden, n, activation);
    conv_out_unbiased(br, h, n, u);
    for (int64_t s = 0; s < count; ++s) {
      Rows us{u.data + s * T, n};
      Affine(add_bias_and_measure(br, us, T), br.norm_out_weight, br.norm_out_bias, br.eps)
          .apply(us, outs, T);
    }
    finish(br, src, u, n, out);
    src = out;
  }
}

// One long sequence, its time cut in chunks shared by the threads. GroupNorm needs statistics of
// the whole sequence first, so each branch takes three passes; the 1x1 convolution's output (2C
// channels, the largest) is made twice rather than stored.
void run_long_sequence(const std::vector<DConvBranch>& branches,
                       const std::vector<WeightProduct>& conv_in, HiddenActivation activation,
                       Rows x, Rows out, int64_t T) {
  // At most kChunk steps a chunk, their count a multiple of 8 and the steps dealt evenly: the
  // innermost time layers (1,344 steps) were one chunk, on one thread while the others waited.
  // The count depends on T alone, so the statistics' sums (one per chunk) do not change with
  // the threads.
  int64_t chunks = (T + kChunk - 1) / kChunk;
  chunks = (chunks + kChunksRoundedTo - 1) / kChunksRoundedTo * kChunksRoundedTo;
  chunks = std::min(chunks, T);
  std::vector<Moments> parts(chunks);
  auto total = [&] {
    Moments m;
    for (const auto& p : parts) m.add(p);
    return m;
  };
  auto each_chunk = [&](auto&& work) {
    parallel_items<Scratch>(chunks, [&](Scratch& scratch, int64_t i) {
      work(T * i / chunks, T * (i + 1) / chunks, parts[i], scratch);
    });
  };
  Rows src = x;
  UnfilledBuffer<float> hidden_values;  // every step's hidden values, written by the first pass
  for (size_t i = 0; i < branches.size(); ++i) {
    const DConvBranch& br = branches[i];
    int64_t hidden = br.conv_in_bias.numel(), outs = br.conv_out_bias.numel();
    if (hidden_values.size() < hidden * T) hidden_values.allocate(hidden * T);
    Rows h{hidden_values.data(), T};
    each_chunk([&](int64_t t0, int64_t t1, Moments& m, Scratch& scratch) {
      auto [lo, hi] = reach(br, T, t0, t1);
      Rows z = scratch.taps(br, hi - lo);
      conv_in[i](src.data + lo, src.stride, hi - lo, z.data, z.stride, scratch.pairs);
      Rows part{h.data + t0, T};
      gather_taps(br, z, lo, T, t0, t1, part);
      m = moments(part, hidden, t1 - t0);
    });
    Affine norm_in(total(), br.norm_in_weight, br.norm_in_bias, br.eps);
    each_chunk([&](int64_t t0, int64_t t1, Moments& m, Scratch& scratch) {
      Rows part{h.data + t0, T}, u = scratch.wide(br, t1 - t0);
      norm_in.apply(part, hidden, t1 - t0);
      activate(part, hidden, t1 - t0, activation);
      conv_out_unbiased(br, part, t1 - t0, u);
      m = add_bias_and_measure(br, u, t1 - t0);
    });
    // The third pass makes conv_out's output again; the norm takes the bias in, which saves one
    // more pass over that output, the widest of the branch (2C rows).
    Affine norm_out_of_unbiased(total(), br.norm_out_weight, br.norm_out_bias, br.eps);
    norm_out_of_unbiased.fold_input_offset(br.conv_out_bias);
    each_chunk([&](int64_t t0, int64_t t1, Moments&, Scratch& scratch) {
      Rows u = scratch.wide(br, t1 - t0);
      conv_out_unbiased(br, Rows{h.data + t0, T}, t1 - t0, u);
      norm_out_of_unbiased.apply(u, outs, t1 - t0);
      finish(br, Rows{src.data + t0, src.stride}, u, t1 - t0, Rows{out.data + t0, out.stride});
    });
    src = out;
  }
}

}  // namespace

at::Tensor dconv_cpu(const std::vector<DConvBranch>& branches, bool gelu, const at::Tensor& input,
                     bool bf16_products) {
  TORCH_CHECK(input.is_cpu() && input.scalar_type() == at::kFloat, "dconv_cpu: float32 CPU input");
  TORCH_CHECK(input.dim() == 3 || input.dim() == 4, "dconv_cpu: [B, C, T] or [B, C, F, T]");
  auto x = input.contiguous();
  auto out = at::empty_like(x);
  if (x.numel() == 0) return out;
  // conv_in's products: z = (taps x hidden, C) @ x. conv_out keeps float32 factors in fast mode
  // too: GELU's outputs lean positive and conv_out's weights cancel that lean, so rounding them
  // cost the parity test's quietest stem 14 dB of SNR (docs/benchmarks.md, point 26).
  std::vector<WeightProduct> conv_in;
  for (const auto& br : branches) conv_in.emplace_back(br.conv_in_weight, bf16_products);
  auto activation = !gelu           ? HiddenActivation::relu
                    : bf16_products ? HiddenActivation::own_gelu
                                    : HiddenActivation::aten_gelu;
  int64_t B = x.size(0), C = x.size(1), T = x.size(-1);
  int64_t F = x.dim() == 4 ? x.size(2) : 1, sequences = B * F;
  auto rows = [&](at::Tensor& t, int64_t s) {
    int64_t b = s / F, f = s % F;
    return Rows{t.data_ptr<float>() + (b * C * F + f) * T, F * T};
  };
  // The path depends on the shape alone: the two round differently, and a choice by thread
  // count made the stems' bits depend on the machine (on more than 4 threads htdemucs' innermost
  // frequency layer, 8 rows, took the long path). 8 rows is what 4 threads asked for before.
  if (sequences >= kShortPathSequences && T <= 4 * kChunk) {
    // Neighbouring frequency rows of one batch item go together, up to about kChunk steps, the
    // rows dealt evenly over the groups: htdemucs' 8 rows of 336 steps went as 6 and 2, and one
    // thread waited for the other most of the layer.
    int64_t most = std::max<int64_t>(1, std::min(F, kChunk / T));
    int64_t groups = (F + most - 1) / most;
    parallel_items<Scratch>(B * groups, [&](Scratch& scratch, int64_t g) {
      int64_t b = g / groups, i = g % groups;
      int64_t f = F * i / groups, count = F * (i + 1) / groups - f;
      run_sequences(branches, conv_in, activation, rows(x, b * F + f), rows(out, b * F + f), count,
                    T, scratch);
    });
  } else {
    for (int64_t s = 0; s < sequences; ++s)
      run_long_sequence(branches, conv_in, activation, rows(x, s), rows(out, s), T);
  }
  return out;
}

}  // namespace msaas::demucs
