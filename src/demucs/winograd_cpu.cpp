// demucs/winograd_cpu.cpp: see winograd_cpu.h. The transforms (winograd_tiles.h) turn each
// block of input and each 3x3 kernel into N x N points; the sum over input channels at each point
// is one matrix product, [Cout, Cin] by [Cin, blocks]. A work item is one row of blocks, or
// several where rows are short: its thread transforms their input, runs the N x N products and
// writes their output while it is all in the cache. Built with -O3 (see src/CMakeLists.txt).
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
#include "demucs/winograd_tiles.h"

namespace msaas::demucs {
namespace {

// Measured against oneDNN on this engine's shapes, in F2x2's 2x2 blocks of output, with the 16
// products on BLAS or on bfloat16 factors (fast mode): 384 channels of 8 x 336 (672 blocks a
// channel) ran slower this way, 192 of 32 x 336 (2688 blocks) and wider ones faster. With the
// products on f32_cpu.h's kernel (the exact mode, docs/benchmarks.md points 32 and 34) 672 blocks
// ran faster too.
constexpr int64_t kMinBlocks = 2048;
constexpr int64_t kMinBlocksOnF32Kernel = 512;
// One axis: htdemucs' time decoders run 1344 to 86,000 positions.
constexpr int64_t kMinLength1d = 256;
// Rows of blocks are grouped into work items up to this size (transformed input and products),
// but an item is never less than a row: on BLAS each of its products packs a [Cout, Cin] matrix,
// and narrower items would pack it for fewer columns. On htdemucs' decoders (84-168 blocks a row)
// a row is 1.5-14 MB: one row per item, that much scratch per thread.
constexpr int64_t kItemBytes = 2 << 20;

// Each point's plane (of U, V or the products) starts one cache line past the end of the one
// before: where planes are a multiple of 4 KiB (htdemucs' are), the transforms' N x N streams
// would all fall in the same few cache sets and evict each other (F4x4's weight transform ran
// 3-4 times slower so).
constexpr int64_t kPlaneGap = 16;  // floats

int64_t plane_stride(int64_t floats) {
  return floats + kPlaneGap;
}

// U[k][o][i] = point k of kernel weight[o][i] transformed (G g G^T for the 3x3 tilings, G g for
// F4Row), each point's [co, ci] a view.
// Made on every call, like every layer's float32 weights (they are kept as the checkpoint's
// float16): at most kMaxPointsBytes (24 MB) a part, a few milliseconds against the layer's 60.
template <class Tiles>
std::vector<at::Tensor> transform_weight(const at::Tensor& weight) {
  at::Tensor w = weight.to(at::kFloat).contiguous();
  int64_t co = w.size(0), ci = w.size(1);
  int64_t stride = plane_stride(co * ci);
  at::Tensor u = at::empty({Tiles::Points, stride}, w.options());
  const float* g = w.data_ptr<float>();
  float* out = u.data_ptr<float>();
  at::parallel_for(0, co, 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      Tiles::weight(g + o * ci * Tiles::Taps, ci, out + o * ci, stride);
  });
  std::vector<at::Tensor> points;
  for (int64_t k = 0; k < Tiles::Points; ++k)
    points.push_back(u[k].narrow(0, 0, co * ci).view({co, ci}));
  return points;
}

struct Shape {
  int64_t ci, co, H, W, M;  // M: the output block's side
  int64_t block_rows() const { return (H + M - 1) / M; }
  int64_t blocks() const { return (W + M - 1) / M; }  // per row of blocks
  int64_t padded() const { return M * blocks() + 2; }
};

// out[t] = a[t] * sigmoid(g[t]): the GLU of a row.
MSAAS_VECTOR_CLONES
void gate(const float* a, const float* g, int64_t n, float* out) {
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) out[t] = a[t] * sigmoid(g[t]);
}

// The M output rows of a row of blocks of one output channel, into y (M rows of M * blocks);
// the products' planes are `stride` apart.
template <class Tiles>
void output_rows(const Shape& s, const float* m, int64_t stride, float bias, float* y) {
  float* rows[Tiles::M];
  for (int i = 0; i < Tiles::M; ++i) rows[i] = y + i * Tiles::M * s.blocks();
  Tiles::output(m, stride, s.blocks(), bias, rows);
}

// The GLU's output for block rows [r0, r1): channel o of C = co / 2 is output channel o times
// the sigmoid of output channel C + o, both made from the products `m` into `spare` (2 M rows of
// M * blocks) and gated there, so the convolution's full depth is never written out.
template <class Tiles>
void gated_output(const Shape& s, const float* m, int64_t n, int64_t m_stride, int64_t r0,
                  int64_t r1, const float* bias, float* spare, float* out) {
  int64_t row = Tiles::M * s.blocks(), C = s.co / 2;
  float *a = spare, *g = spare + Tiles::M * row;
  for (int64_t o = 0; o < C; ++o) {
    float* y = out + o * s.H * s.W;
    for (int64_t r = r0; r < r1; ++r) {
      int64_t at = (r - r0) * s.blocks();
      output_rows<Tiles>(s, m + o * n + at, m_stride, bias ? bias[o] : 0.f, a);
      output_rows<Tiles>(s, m + (C + o) * n + at, m_stride, bias ? bias[C + o] : 0.f, g);
      for (int64_t i = 0; i < Tiles::M && Tiles::M * r + i < s.H; ++i)
        gate(a + i * row, g + i * row, s.W, y + (Tiles::M * r + i) * s.W);
    }
  }
}

// Floats of scratch an item of `rows` rows of blocks takes: its V, its products, N padded input
// rows and 2 M output rows.
template <class Tiles>
int64_t scratch_floats(const Shape& s, int64_t rows) {
  int64_t n = rows * s.blocks();
  return Tiles::Points * (plane_stride(s.ci * n) + plane_stride(s.co * n)) + Tiles::N * s.padded() +
         2 * Tiles::M * Tiles::M * s.blocks();
}

// One work item: block rows [r0, r1) of one image. `image` and `out` are the image's first
// channel.
template <class Tiles>
void run_item(const Shape& s, const std::vector<WeightProduct>& points, const float* bias,
              const float* image, int64_t r0, int64_t r1, float* scratch,
              std::vector<uint16_t>& pairs, bool glu, float* out) {
  constexpr int M = Tiles::M, N = Tiles::N, P = Tiles::Points;
  int64_t tw = s.blocks(), n = (r1 - r0) * tw, pw = s.padded();
  int64_t v_stride = plane_stride(s.ci * n), m_stride = plane_stride(s.co * n);
  float* v = scratch;
  float* m = v + P * v_stride;
  float* pad = m + P * m_stride;
  float* spare = pad + N * pw;
  for (int64_t c = 0; c < s.ci; ++c) {
    const float* channel = image + c * s.H * s.W;
    for (int64_t r = r0; r < r1; ++r) {
      const float* rows[N];
      for (int a = 0; a < N; ++a) {
        int64_t h = M * r - 1 + a;
        float* p = pad + a * pw;
        std::fill(p, p + pw, 0.f);
        if (h >= 0 && h < s.H) std::copy(channel + h * s.W, channel + (h + 1) * s.W, p + 1);
        rows[a] = p;
      }
      Tiles::input(rows, tw, v + c * n + (r - r0) * tw, v_stride);
    }
  }
  for (int64_t k = 0; k < P; ++k)  // point k's product: [co, ci] by [ci, n]
    points[k](v + k * v_stride, n, n, m + k * m_stride, n, pairs);
  if (glu) {
    gated_output<Tiles>(s, m, n, m_stride, r0, r1, bias, spare, out);
    return;
  }
  for (int64_t o = 0; o < s.co; ++o) {
    float* y = out + o * s.H * s.W;
    for (int64_t r = r0; r < r1; ++r) {
      const float* mo = m + o * n + (r - r0) * tw;
      float b = bias ? bias[o] : 0.f;
      // Straight into the image where the block row lies inside it, else through spare rows.
      bool inside = M * (r + 1) <= s.H && M * tw == s.W;
      output_rows<Tiles>(s, mo, m_stride, b, inside ? y + M * r * s.W : spare);
      if (inside) continue;
      for (int64_t a = 0; a < M && M * r + a < s.H; ++a)
        std::copy(spare + a * M * tw, spare + a * M * tw + s.W, y + (M * r + a) * s.W);
    }
  }
}

// A thread's scratch: its items' transformed input and products, and packed columns (fast mode).
struct ItemScratch {
  at::Tensor floats;
  std::vector<uint16_t> pairs;
};

// Runs the convolution (its GLU) of `in` with `weight` into `out`: channel 0 of batch item 0 of
// this weight's outputs, batch items out_depth channels apart.
template <class Tiles>
void run_tiles(const at::Tensor& in, const at::Tensor& weight, const at::Tensor& b,
               bool bf16_products, bool glu, float* out, int64_t out_depth) {
  Shape s{in.size(1), weight.size(0), in.size(2), in.size(3), Tiles::M};
  std::vector<WeightProduct> points;
  for (const auto& u : transform_weight<Tiles>(weight)) points.emplace_back(u, bf16_products);
  int64_t B = in.size(0), th = s.block_rows(), tw = s.blocks();
  int64_t per_block = Tiles::Points * (s.ci + s.co) * static_cast<int64_t>(sizeof(float));
  int64_t rows_per_item = std::clamp<int64_t>(kItemBytes / (per_block * tw), 1, th);
  int64_t items_per_image = (th + rows_per_item - 1) / rows_per_item;
  int64_t floats = scratch_floats<Tiles>(s, rows_per_item);
  const float* image = in.data_ptr<float>();
  parallel_items<ItemScratch>(B * items_per_image, [&](ItemScratch& scratch, int64_t i) {
    if (!scratch.floats.defined())  // from the arena, not zero-filled
      scratch.floats = at::empty({floats}, in.options());
    int64_t batch = i / items_per_image, r0 = (i % items_per_image) * rows_per_item;
    run_item<Tiles>(s, points, b.defined() ? b.data_ptr<float>() : nullptr,
                    image + batch * s.ci * s.H * s.W, r0, std::min(th, r0 + rows_per_item),
                    scratch.floats.data_ptr<float>(), scratch.pairs, glu,
                    out + batch * out_depth * s.H * s.W);
  });
}

// F4x4's transformed kernels are 4 times the layer's float32 weight: 42 MB at htdemucs'
// innermost decoder (384 to 768 channels), which made the exact mode's peak 22 MB higher. Layers
// past kMaxPointsBytes run in parts of their output channels (under the GLU, pairs o and C + o),
// each part transforming its kernels and its input anew (the input transform is a few percent
// of such a layer's time). The 1-D kernels, 6 points, take the same bound.
constexpr int64_t kMaxPointsBytes = 24 << 20;

template <class Tiles>
int64_t points_bytes(int64_t co, int64_t ci) {
  return Tiles::Points * co * ci * static_cast<int64_t>(sizeof(float));
}

void run_f4x4_in_parts(const at::Tensor& in, const at::Tensor& weight, const at::Tensor& b,
                       bool glu, at::Tensor& y) {
  int64_t co = weight.size(0), depth = y.size(1), plane = y.size(2) * y.size(3);
  int64_t bytes = points_bytes<winograd::F4x4>(co, weight.size(1));
  int64_t parts = std::min((bytes + kMaxPointsBytes - 1) / kMaxPointsBytes, depth);
  int64_t step = (depth + parts - 1) / parts;
  for (int64_t o0 = 0; o0 < depth; o0 += step) {
    int64_t o1 = std::min(depth, o0 + step);
    auto rows = [&](const at::Tensor& t) {
      if (!t.defined() || parts == 1) return t;
      if (!glu) return t.slice(0, o0, o1);
      return at::cat({t.slice(0, o0, o1), t.slice(0, depth + o0, depth + o1)});
    };
    run_tiles<winograd::F4x4>(in, rows(weight), rows(b), false, glu,
                              y.data_ptr<float>() + o0 * plane, depth);
  }
}

// What both the 2-D and the 1-D kernels refuse, leaving it to ATen: tensors they do not handle,
// a weight or bias that does not fit the input, empty shapes, an odd depth for the GLU.
bool refused(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, bool glu,
             int64_t dims) {
  if (!own_cpu_kernels_apply(x) || x.dim() != dims + 2 || !weight.is_cpu() ||
      weight.dim() != dims + 2 || weight.size(1) != x.size(1))
    return true;
  for (int64_t d = 2; d < weight.dim(); ++d)
    if (weight.size(d) != 3) return true;
  if (bias.defined() && (!bias.is_cpu() || bias.numel() != weight.size(0))) return true;
  return x.numel() == 0 || weight.numel() == 0 || (glu && weight.size(0) % 2);
}

std::optional<at::Tensor> run(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              bool bf16_products, bool glu) {
  if (refused(x, weight, bias, glu, 2)) return std::nullopt;
  // F4x4 where the products are float32 on f32_cpu.h's kernel (the exact mode: its rounding is
  // far below the parity tolerance, point 34); F2x2 from bfloat16 factors, whose rounding F4x4's
  // transforms would multiply, and on BLAS, where F4x4 was not measured.
  bool f32_kernel = !(bf16_products && bf16_products_available()) && f32_products_available();
  int64_t blocks = ((x.size(2) + 1) / 2) * ((x.size(3) + 1) / 2);  // F2x2's, per channel
  if (blocks < (f32_kernel ? kMinBlocksOnF32Kernel : kMinBlocks)) return std::nullopt;
  int64_t co = weight.size(0), pair = glu ? 2 : 1;  // output channels a part cannot split
  if (f32_kernel && points_bytes<winograd::F4x4>(pair, weight.size(1)) > kMaxPointsBytes)
    return std::nullopt;
  auto in = x.contiguous();
  auto b = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
  auto y = at::empty({x.size(0), co / pair, x.size(2), x.size(3)}, in.options());
  if (f32_kernel)
    run_f4x4_in_parts(in, weight, b, glu, y);
  else
    run_tiles<winograd::F2x2>(in, weight, b, bf16_products, glu, y.data_ptr<float>(), y.size(1));
  return y;
}

// One axis (F4Row): x [B, Cin, L], weight [Cout, Cin, 3]; a work item is `n` blocks of 4 outputs.
struct Shape1d {
  int64_t ci, co, L;
  int64_t blocks() const { return (L + 3) / 4; }
};

// Blocks per work item: whole 64-column panels of the float32 kernel, as many as kItemBytes
// holds (htdemucs' time decoders: 64 at 384 channels, 128 at 192, 256 at 96, 576 at 48).
int64_t blocks_per_item_1d(const Shape1d& s) {
  int64_t per_block = winograd::F4Row::Points * (s.ci + s.co) * static_cast<int64_t>(sizeof(float));
  int64_t panels = std::max<int64_t>(1, kItemBytes / per_block / 64);
  return std::min(64 * panels, s.blocks());
}

// Floats of scratch an item of n blocks takes: its V, its products, a padded input row, and
// two output rows (the GLU's halves, or the last item's output past the end).
int64_t scratch_floats_1d(const Shape1d& s, int64_t n) {
  constexpr int64_t P = winograd::F4Row::Points, M = winograd::F4Row::M;
  return P * (plane_stride(s.ci * n) + plane_stride(s.co * n)) + (M * n + 2) + 2 * M * n;
}

// Blocks [t0, t0 + n) of one batch item: `image` and `out` are its first channel.
void run_item_1d(const Shape1d& s, const std::vector<WeightProduct>& points, const float* bias,
                 const float* image, int64_t t0, int64_t n, float* scratch,
                 std::vector<uint16_t>& pairs, bool glu, float* out) {
  using winograd::F4Row;
  int64_t v_stride = plane_stride(s.ci * n), m_stride = plane_stride(s.co * n);
  float* v = scratch;
  float* m = v + F4Row::Points * v_stride;
  float* row = m + F4Row::Points * m_stride;  // positions 4 t0 - 1 ... 4 (t0 + n)
  float* spare = row + F4Row::M * n + 2;      // two rows of 4 n outputs
  int64_t first = F4Row::M * t0 - 1, count = std::min(F4Row::M * n, s.L - F4Row::M * t0);
  int64_t from = std::max<int64_t>(first, 0), to = std::min(first + F4Row::M * n + 2, s.L);
  for (int64_t c = 0; c < s.ci; ++c) {
    const float* channel = image + c * s.L;
    std::fill(row, row + F4Row::M * n + 2, 0.f);
    std::copy(channel + from, channel + to, row + (from - first));
    F4Row::input(row, n, v + c * n, v_stride);
  }
  for (int64_t k = 0; k < F4Row::Points; ++k)  // point k's product: [co, ci] by [ci, n]
    points[k](v + k * v_stride, n, n, m + k * m_stride, n, pairs);
  float *a = spare, *g = spare + F4Row::M * n;
  if (glu) {
    int64_t C = s.co / 2;
    for (int64_t o = 0; o < C; ++o) {
      F4Row::output(m + o * n, m_stride, n, bias ? bias[o] : 0.f, a);
      F4Row::output(m + (C + o) * n, m_stride, n, bias ? bias[C + o] : 0.f, g);
      gate(a, g, count, out + o * s.L + F4Row::M * t0);
    }
    return;
  }
  for (int64_t o = 0; o < s.co; ++o) {
    float* y = out + o * s.L + F4Row::M * t0;
    bool whole = count == F4Row::M * n;  // else the last blocks hang past the end
    F4Row::output(m + o * n, m_stride, n, bias ? bias[o] : 0.f, whole ? y : a);
    if (!whole) std::copy(a, a + count, y);
  }
}

std::optional<at::Tensor> run_1d(const at::Tensor& x, const at::Tensor& weight,
                                 const at::Tensor& bias, bool glu) {
  if (refused(x, weight, bias, glu, 1) || !f32_products_available() || x.size(2) < kMinLength1d)
    return std::nullopt;
  if (points_bytes<winograd::F4Row>(weight.size(0), weight.size(1)) > kMaxPointsBytes)
    return std::nullopt;
  auto in = x.contiguous();
  auto b = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
  Shape1d s{in.size(1), weight.size(0), in.size(2)};
  std::vector<WeightProduct> points;
  for (const auto& u : transform_weight<winograd::F4Row>(weight)) points.emplace_back(u, false);
  int64_t n = blocks_per_item_1d(s), items_per_row = (s.blocks() + n - 1) / n;
  int64_t B = in.size(0), depth = glu ? s.co / 2 : s.co;
  auto y = at::empty({B, depth, s.L}, in.options());
  const float* image = in.data_ptr<float>();
  float* out = y.data_ptr<float>();
  int64_t floats = scratch_floats_1d(s, n);
  parallel_items<ItemScratch>(B * items_per_row, [&](ItemScratch& scratch, int64_t i) {
    if (!scratch.floats.defined()) scratch.floats = at::empty({floats}, in.options());
    int64_t batch = i / items_per_row, t0 = (i % items_per_row) * n;
    run_item_1d(s, points, b.defined() ? b.data_ptr<float>() : nullptr, image + batch * s.ci * s.L,
                t0, std::min(n, s.blocks() - t0), scratch.floats.data_ptr<float>(), scratch.pairs,
                glu, out + batch * depth * s.L);
  });
  return y;
}

// Whether the first `axes` entries of a convolution's stride, padding or dilation are all
// `value`, entries left out counting as ATen's default.
bool all_entries_are(at::IntArrayRef v, size_t axes, int64_t default_value, int64_t value) {
  for (size_t i = 0; i < axes; ++i)
    if ((i < v.size() ? v[i] : default_value) != value) return false;
  return true;
}

}  // namespace

bool is_plain_3x3(const at::Tensor& weight, at::IntArrayRef stride, at::IntArrayRef padding,
                  at::IntArrayRef dilation) {
  return weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3 &&
         all_entries_are(stride, 2, 1, 1) && all_entries_are(padding, 2, 0, 1) &&
         all_entries_are(dilation, 2, 1, 1);
}

std::optional<at::Tensor> winograd_conv3x3(const at::Tensor& x, const at::Tensor& weight,
                                           const at::Tensor& bias, bool bf16_products) {
  return run(x, weight, bias, bf16_products, false);
}

std::optional<at::Tensor> winograd_conv3x3_glu(const at::Tensor& x, const at::Tensor& weight,
                                               const at::Tensor& bias, bool bf16_products) {
  return run(x, weight, bias, bf16_products, true);
}

bool is_plain_3tap(const at::Tensor& weight, at::IntArrayRef stride, at::IntArrayRef padding,
                   at::IntArrayRef dilation) {
  return weight.dim() == 3 && weight.size(2) == 3 && all_entries_are(stride, 1, 1, 1) &&
         all_entries_are(padding, 1, 0, 1) && all_entries_are(dilation, 1, 1, 1);
}

std::optional<at::Tensor> winograd_conv3tap(const at::Tensor& x, const at::Tensor& weight,
                                            const at::Tensor& bias) {
  return run_1d(x, weight, bias, false);
}

std::optional<at::Tensor> winograd_conv3tap_glu(const at::Tensor& x, const at::Tensor& weight,
                                                const at::Tensor& bias) {
  return run_1d(x, weight, bias, true);
}

}  // namespace msaas::demucs
