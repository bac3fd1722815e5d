// demucs/int8_cpu.h: matrix products with 8-bit integer factors and 32-bit integer sums, on
// CPUs with AVX-512 VNNI (vpdpbusd: four byte products per 32-bit lane per instruction, where
// vdpbf16ps has two). Fast mode takes them for the transformer's linear layers where asked for
// (int8_products_preferred below); rounding each token and each weight row to 255 levels moved
// the evaluation set's median SDR by hundredths of a dB (docs/benchmarks.md, points 30-31).
//
// The numbers. A weight row j (an output column of the product) is rounded to integers
// q in [-127, 127] on one symmetric scale, w ~ q * scale_j with scale_j = max|w_j| / 127; a
// token's row i the same way with its own scale, then stored as q + 128 in [1, 255], since
// vpdpbusd multiplies unsigned bytes by signed ones. The offset adds 128 * (the sum of column
// j's integers) to every sum of column j; the product subtracts it again (exact, in 32-bit
// integers) before scaling: c(i, j) = (sum - offset_j) * scale_i * scale_j (+ bias_j).
//
// Layouts. The token rows are bytes, row-major, int8_depth(k) apart, the padding holding
// anything (its weights are zero). The weight is packed by quads of its k: element (p, j) of
// the k x n factor sits at [(p / 4) * n + j] * 4 + p % 4, so one 32-bit word holds the four
// numbers of consecutive p that one vpdpbusd lane multiplies.
//
// The kernel is built with GCC on x86-64 (intrinsics behind a target attribute); elsewhere
// int8_products_available() is false and fast mode keeps these products in bfloat16.
#pragma once

#include <cstdint>
#include <vector>

namespace msaas::demucs {

// The depth of a product over k: k rounded up to a multiple of 4.
inline int64_t int8_depth(int64_t k) {
  return (k + 3) / 4 * 4;
}

// The deepest product whose sums, and the weight rows' offsets, fit in 32-bit integers
// (127 * 127 * k and 128 * 127 * k under 2^31); deeper ones are refused.
constexpr int64_t kMaxInt8Depth = 131072;

// True where this CPU runs AVX-512 VNNI (and BW) and the kernel was built (GCC, x86-64).
bool int8_products_available();

// True where fast mode takes int8 products for the transformer's linear layers: asked for by
// MSAAS_FAST_INT8=1 in the environment of any process that runs the engine (read on every call;
// any other value leaves it off) and the kernel available. Off by default (docs/benchmarks.md,
// point 31): on AMD's Zen 4 the int8 kernel ran about 10 % slower than the bfloat16 one
// (vpdpbusd issues at half vdpbf16ps' rate there), and its rounding moved the quality gate's
// three-mixture bass median by 0.075 dB, past the gate's 0.05 dB. On a CPU that issues both at
// one rate (round 14's machine, by its instruction rates: point 30) it would save an estimated
// 8 % of a fast segment. compute_summary() says when it is on.
bool int8_products_preferred();

// A weight matrix (n rows of k floats, row-major) quantized and packed as the product's
// right-hand factor: its transpose by quads, a scale per row, and each row's offset correction.
struct Int8Weight {
  std::vector<int8_t> quads;     // int8_depth(k) * n numbers
  std::vector<float> scales;     // n
  std::vector<int32_t> offsets;  // n: 128 * the sum of row j's integers
  int64_t n = 0, k = 0, depth = 0;
};

// Rows j0 to j0 + count of the weight w (row j at w + j * k) into `out`, already sized for all
// n rows (int8_weight_of_size, which throws std::invalid_argument past kMaxInt8Depth): work
// items can each take a range of rows of one weight.
Int8Weight int8_weight_of_size(int64_t n, int64_t k);
void quantize_weight_rows(const float* w, int64_t j0, int64_t count, Int8Weight& out);

// Each of `rows` rows of k floats (ld apart) to unsigned bytes, q + 128 (round to nearest, ties
// to even, on a scale of max|x| / 127 per row), into rows out_ld >= k bytes apart, the padding
// set to 128 (zero); each row's scale into scales[r]. A row holding an infinity or a NaN gets a
// NaN scale, so its outputs are NaN; a row of zeros gets the scale 0, and so does a row whose
// largest magnitude is so small (under about 4e-37) that 127 over it overflows: it counts as
// zeros.
void quantize_rows_u8(const float* in, int64_t ld, int64_t rows, int64_t k, uint8_t* out,
                      int64_t out_ld, float* scales);

// c (m x w.n, row stride ldc) = the rows a (m x w.depth bytes, row stride lda) with their scales
// times the weight, plus bias (w.n floats, or nullptr for none). Needs int8_products_available().
void gemm_u8s8(const uint8_t* a, int64_t lda, const float* a_scales, const Int8Weight& w,
               const float* bias, float* c, int64_t ldc, int64_t m);

}  // namespace msaas::demucs
