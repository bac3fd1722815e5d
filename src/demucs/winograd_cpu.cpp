// demucs/winograd_cpu.cpp: see winograd_cpu.h. The transforms of Lavin and Gray (2016), "Fast
// Algorithms for Convolutional Neural Networks": with g a 3x3 kernel and d a 4x4 block of input,
// U = G g G^T and V = B^T d B are 4x4; the block's 2x2 output is A^T (sum over input channels of
// U . V) A. The sum over channels at each of the 16 points is one matrix product, [Cout, Cin] by
// [Cin, blocks]. A work item is one row of blocks, or several where rows are short: its thread
// transforms their input, runs the 16 products and writes their output while it is all in the
// cache. Built with -O3 (see src/CMakeLists.txt); the transforms are compiled for AVX-512, AVX2
// and plain x86-64.
#include "demucs/winograd_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "demucs/backend.h"
#include "demucs/exp_cpu.h"
#include "demucs/f32_cpu.h"
#include "demucs/parallel_items.h"
#include "demucs/vector_clones.h"
#include "demucs/weight_product_cpu.h"

namespace msaas::demucs {
namespace {

// Measured against oneDNN on this engine's shapes, with the 16 products on BLAS or on bfloat16
// factors (fast mode): 384 channels of 8 x 336 (672 blocks per channel) ran slower this way, 192
// of 32 x 336 (2688 blocks) and wider ones faster. With the products on f32_cpu.h's kernel (the
// exact mode, docs/benchmarks.md point 32) 672 blocks ran faster too.
constexpr int64_t kMinBlocks = 2048;
constexpr int64_t kMinBlocksOnF32Kernel = 512;
// Rows of blocks are grouped into work items up to this size (transformed input and products),
// but an item is never less than a row: on BLAS each of its 16 products packs a [Cout, Cin]
// matrix, and narrower items would pack it for fewer columns. On htdemucs' decoders (168 blocks a
// row) a row is 1.5 MB at 48 channels, 6.2 MB at 192: one row per item, that much scratch per
// thread.
constexpr int64_t kItemBytes = 2 << 20;

// U[k][o][i] = (G g G^T)[k / 4][k % 4] for kernel g = weight[o][i], G = [1 0 0; .5 .5 .5;
// .5 -.5 .5; 0 0 1]. Made on every call, like every layer's float32 weights (they are kept as
// the checkpoint's float16): at most 4.7 MB, a millisecond against the convolution's 30.
at::Tensor transform_weight(const at::Tensor& weight) {
  auto w = weight.to(at::kFloat).contiguous();
  int64_t co = w.size(0), ci = w.size(1);
  auto u = at::empty({16, co, ci}, w.options());
  const float* g = w.data_ptr<float>();
  float* out = u.data_ptr<float>();
  at::parallel_for(0, co, 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t i = 0; i < ci; ++i) {
        const float* k = g + (o * ci + i) * 9;
        float gk[4][3];  // G g
        for (int c = 0; c < 3; ++c) {
          gk[0][c] = k[c];
          gk[1][c] = 0.5f * (k[c] + k[3 + c] + k[6 + c]);
          gk[2][c] = 0.5f * (k[c] - k[3 + c] + k[6 + c]);
          gk[3][c] = k[6 + c];
        }
        for (int r = 0; r < 4; ++r) {
          const float* a = gk[r];
          float row[4] = {a[0], 0.5f * (a[0] + a[1] + a[2]), 0.5f * (a[0] - a[1] + a[2]), a[2]};
          for (int c = 0; c < 4; ++c) out[((r * 4 + c) * co + o) * ci + i] = row[c];
        }
      }
  });
  return u;
}

// V for one row of `blocks` blocks of one channel: rows[a] is input row a of the blocks, padded
// (rows[a][0] is column -1, the rest zero past the image). Point k of block t goes to
// v[k * point_stride + t]. B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
MSAAS_VECTOR_CLONES
void input_blocks(const float* const* rows, int64_t blocks, float* __restrict v,
                  int64_t point_stride) {
  const float* __restrict r0 = rows[0];
  const float* __restrict r1 = rows[1];
  const float* __restrict r2 = rows[2];
  const float* __restrict r3 = rows[3];
  for (int64_t t = 0; t < blocks; ++t) {
    float d[4][4];  // B^T d: the columns 2t - 1 ... 2t + 2
    for (int q = 0; q < 4; ++q) {
      int64_t i = 2 * t + q;
      d[0][q] = r0[i] - r2[i];
      d[1][q] = r1[i] + r2[i];
      d[2][q] = r2[i] - r1[i];
      d[3][q] = r1[i] - r3[i];
    }
    for (int a = 0; a < 4; ++a) {  // (B^T d) B
      v[(4 * a + 0) * point_stride + t] = d[a][0] - d[a][2];
      v[(4 * a + 1) * point_stride + t] = d[a][1] + d[a][2];
      v[(4 * a + 2) * point_stride + t] = d[a][2] - d[a][1];
      v[(4 * a + 3) * point_stride + t] = d[a][1] - d[a][3];
    }
  }
}

// Y = A^T m A + bias for one row of blocks of one output channel, A^T = [1 1 1 0; 0 1 -1 -1]:
// block t's point k is m[k * point_stride + t], its output y0[2t, 2t + 1] and y1[2t, 2t + 1].
MSAAS_VECTOR_CLONES
void output_blocks(const float* __restrict m, int64_t point_stride, int64_t blocks, float bias,
                   float* __restrict y0, float* __restrict y1) {
  for (int64_t t = 0; t < blocks; ++t) {
    float p[16];
    for (int k = 0; k < 16; ++k) p[k] = m[k * point_stride + t];
    float s[2][4];  // A^T m
    for (int q = 0; q < 4; ++q) {
      s[0][q] = p[q] + p[4 + q] + p[8 + q];
      s[1][q] = p[4 + q] - p[8 + q] - p[12 + q];
    }
    y0[2 * t] = s[0][0] + s[0][1] + s[0][2] + bias;
    y0[2 * t + 1] = s[0][1] - s[0][2] - s[0][3] + bias;
    y1[2 * t] = s[1][0] + s[1][1] + s[1][2] + bias;
    y1[2 * t + 1] = s[1][1] - s[1][2] - s[1][3] + bias;
  }
}

struct Shape {
  int64_t ci, co, H, W;
  int64_t block_rows() const { return (H + 1) / 2; }
  int64_t blocks() const { return (W + 1) / 2; }  // per row of blocks
  int64_t padded() const { return 2 * blocks() + 2; }
};

// out[t] = a[t] * sigmoid(g[t]): the GLU of a row.
MSAAS_VECTOR_CLONES
void gate(const float* a, const float* g, int64_t n, float* out) {
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) out[t] = a[t] * sigmoid(g[t]);
}

// The GLU's output for block rows [r0, r1): channel o of C = co / 2 is output channel o times
// the sigmoid of output channel C + o, both made from the products `m` into `spare` (two rows of
// 2 * blocks each: 8 * blocks floats, of the 8 * blocks + 8 of the item's padded input rows, no
// longer needed) and gated there, so the convolution's full depth is never written out.
void gated_output(const Shape& s, const float* m, int64_t n, int64_t r0, int64_t r1,
                  const float* bias, float* spare, float* out) {
  int64_t tw = s.blocks(), C = s.co / 2;
  float *a = spare, *g = spare + 4 * tw;
  for (int64_t o = 0; o < C; ++o) {
    float* y = out + o * s.H * s.W;
    for (int64_t r = r0; r < r1; ++r) {
      int64_t at = (r - r0) * tw;
      output_blocks(m + o * n + at, s.co * n, tw, bias ? bias[o] : 0.f, a, a + 2 * tw);
      output_blocks(m + (C + o) * n + at, s.co * n, tw, bias ? bias[C + o] : 0.f, g, g + 2 * tw);
      for (int64_t i = 0; i < 2 && 2 * r + i < s.H; ++i)
        gate(a + i * 2 * tw, g + i * 2 * tw, s.W, y + (2 * r + i) * s.W);
    }
  }
}

// One work item: block rows [r0, r1) of one image. `scratch` holds its V, its products and four
// padded input rows, `image` and `out` the image's first channel.
void run_item(const Shape& s, const std::vector<WeightProduct>& points, const float* bias,
              const float* image, int64_t r0, int64_t r1, float* scratch,
              std::vector<uint16_t>& pairs, bool glu, float* out) {
  int64_t tw = s.blocks(), n = (r1 - r0) * tw, pw = s.padded();
  float* v = scratch;
  float* m = v + 16 * s.ci * n;
  float* pad = m + 16 * s.co * n;
  for (int64_t c = 0; c < s.ci; ++c) {
    const float* channel = image + c * s.H * s.W;
    for (int64_t r = r0; r < r1; ++r) {
      const float* rows[4];
      for (int a = 0; a < 4; ++a) {
        int64_t h = 2 * r - 1 + a;
        float* p = pad + a * pw;
        std::fill(p, p + pw, 0.f);
        if (h >= 0 && h < s.H) std::copy(channel + h * s.W, channel + (h + 1) * s.W, p + 1);
        rows[a] = p;
      }
      input_blocks(rows, tw, v + c * n + (r - r0) * tw, s.ci * n);
    }
  }
  for (int64_t k = 0; k < 16; ++k)  // point k's product: [co, ci] by [ci, n]
    points[k](v + k * s.ci * n, n, n, m + k * s.co * n, n, pairs);
  if (glu) {
    gated_output(s, m, n, r0, r1, bias, pad, out);
    return;
  }
  float* spare = pad;  // two output rows where the image ends inside a block
  for (int64_t o = 0; o < s.co; ++o) {
    float* y = out + o * s.H * s.W;
    for (int64_t r = r0; r < r1; ++r) {
      const float* mo = m + o * n + (r - r0) * tw;
      float b = bias ? bias[o] : 0.f;
      if (2 * r + 1 < s.H && 2 * tw == s.W) {
        output_blocks(mo, s.co * n, tw, b, y + 2 * r * s.W, y + (2 * r + 1) * s.W);
        continue;
      }
      output_blocks(mo, s.co * n, tw, b, spare, spare + 2 * tw);
      for (int64_t a = 0; a < 2 && 2 * r + a < s.H; ++a)
        std::copy(spare + a * 2 * tw, spare + a * 2 * tw + s.W, y + (2 * r + a) * s.W);
    }
  }
}

// A thread's scratch: its items' transformed input and products, and packed columns (fast mode).
struct ItemScratch {
  at::Tensor floats;
  std::vector<uint16_t> pairs;
};

std::optional<at::Tensor> run(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              bool bf16_products, bool glu) {
  if (!own_cpu_kernels_apply(x) || x.dim() != 4 || !weight.is_cpu() || weight.dim() != 4 ||
      weight.size(2) != 3 || weight.size(3) != 3 || weight.size(1) != x.size(1))
    return std::nullopt;
  if (bias.defined() && (!bias.is_cpu() || bias.numel() != weight.size(0))) return std::nullopt;
  if (glu && weight.size(0) % 2) return std::nullopt;
  Shape s{x.size(1), weight.size(0), x.size(2), x.size(3)};
  bool f32_kernel = !(bf16_products && bf16_products_available()) && f32_products_available();
  if (s.block_rows() * s.blocks() < (f32_kernel ? kMinBlocksOnF32Kernel : kMinBlocks))
    return std::nullopt;  // before any copy
  auto in = x.contiguous();
  auto u = transform_weight(weight);
  std::vector<WeightProduct> points;
  for (int64_t k = 0; k < 16; ++k) points.emplace_back(u[k], bf16_products);
  auto b = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
  int64_t B = in.size(0), th = s.block_rows(), tw = s.blocks();
  int64_t per_block = 16 * (s.ci + s.co) * static_cast<int64_t>(sizeof(float));
  int64_t rows_per_item = std::clamp<int64_t>(kItemBytes / (per_block * tw), 1, th);
  int64_t items_per_image = (th + rows_per_item - 1) / rows_per_item;
  int64_t scratch_floats = 16 * (s.ci + s.co) * rows_per_item * tw + 4 * s.padded();
  int64_t depth = glu ? s.co / 2 : s.co;
  auto y = at::empty({B, depth, s.H, s.W}, in.options());
  const float* image = in.data_ptr<float>();
  float* out = y.data_ptr<float>();
  parallel_items<ItemScratch>(B * items_per_image, [&](ItemScratch& scratch, int64_t i) {
    if (!scratch.floats.defined())  // from the arena, not zero-filled
      scratch.floats = at::empty({scratch_floats}, in.options());
    int64_t batch = i / items_per_image, r0 = (i % items_per_image) * rows_per_item;
    run_item(s, points, b.defined() ? b.data_ptr<float>() : nullptr,
             image + batch * s.ci * s.H * s.W, r0, std::min(th, r0 + rows_per_item),
             scratch.floats.data_ptr<float>(), scratch.pairs, glu, out + batch * depth * s.H * s.W);
  });
  return y;
}

}  // namespace

bool is_plain_3x3(const at::Tensor& weight, at::IntArrayRef stride, at::IntArrayRef padding,
                  at::IntArrayRef dilation) {
  auto at_or = [](at::IntArrayRef v, size_t i, int64_t fallback) {
    return i < v.size() ? v[i] : fallback;
  };
  return weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3 &&
         at_or(stride, 0, 1) == 1 && at_or(stride, 1, 1) == 1 && at_or(padding, 0, 0) == 1 &&
         at_or(padding, 1, 0) == 1 && at_or(dilation, 0, 1) == 1 && at_or(dilation, 1, 1) == 1;
}

std::optional<at::Tensor> winograd_conv3x3(const at::Tensor& x, const at::Tensor& weight,
                                           const at::Tensor& bias, bool bf16_products) {
  return run(x, weight, bias, bf16_products, false);
}

std::optional<at::Tensor> winograd_conv3x3_glu(const at::Tensor& x, const at::Tensor& weight,
                                               const at::Tensor& bias, bool bf16_products) {
  return run(x, weight, bias, bf16_products, true);
}

}  // namespace msaas::demucs
