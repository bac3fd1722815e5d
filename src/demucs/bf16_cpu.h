// demucs/bf16_cpu.h: matrix products with bfloat16 inputs and float32 sums, on CPUs with AVX-512
// BF16 (vdpbf16ps: two products per lane per instruction, twice float32's FMA rate). Fast mode
// uses them where bfloat16's rounding costs hundredths of a dB on the median SDR, at most about
// 0.1 dB on one stem of the evaluation set: the linear
// layers, attention's products, the transposed and 3x3 convolutions and DConv's first one
// (docs/benchmarks.md points 23, 24 and 26; docs/quality.md). Debian's OpenBLAS is built
// without its bfloat16 product (sbgemm), and libtorch's bfloat16 matrix products round their
// outputs to bfloat16.
//
// Layouts. A matrix `a` (m x k) is bfloat16 row-major with k even (pad an odd k with a zero
// column). The other factor (k x n) is packed by pairs of rows: element (i, j) sits at
// [(i / 2) * n + j] * 2 + i % 2, so one 32-bit word holds the two numbers of consecutive rows that
// one vdpbf16ps lane multiplies. Like every vdpbf16ps user, the products treat subnormal
// inputs as zero and flush subnormal sums to zero.
//
// The kernel is built with GCC on x86-64 (intrinsics behind a target attribute); elsewhere
// bf16_products_available() is false and fast mode keeps these products in float32.
#pragma once

#include <cstdint>
#include <vector>

namespace msaas::demucs {

// The depth of a product over k: k rounded up to even (the zero row or column that pads it).
inline int64_t bf16_depth(int64_t k) {
  return (k + 1) / 2 * 2;
}

// True where this CPU runs AVX-512 BF16 and the kernel was built (GCC, x86-64); gemm_bf16
// needs it.
bool bf16_products_available();

// out[i] = in[i] rounded to bfloat16 (to nearest, ties to even), for n floats.
void round_to_bf16(const float* in, uint16_t* out, int64_t n);

// A matrix's rows rounded to bfloat16 (round_to_bf16): rows of k floats, ld apart, into rows
// out_ld >= k apart, zero-padded past k (a gemm_bf16 factor: out_ld = bf16_depth(k)).
void round_rows_to_bf16(const float* in, int64_t ld, int64_t rows, int64_t k, uint16_t* out,
                        int64_t out_ld);

// Packs b (k rows of n floats, row i at b + i * ldb) by pairs of rows into `pairs`, which holds
// bf16_depth(k) * n numbers; an odd k gets a zero row.
void pack_bf16_pairs(const float* b, int64_t k, int64_t n, int64_t ldb, uint16_t* pairs);

// The same for b given as its transpose: bt holds n rows of k floats (row j at bt + j * ldbt),
// b(i, j) = bt[j * ldbt + i]. For a weight matrix or a head's keys, whose rows are b's columns.
// ldp >= n: the packed matrix's width. Pair p of column j goes to pairs[2 * (p * ldp + j)] (and
// pairs[2 * (p * ldp + j) + 1]), so columns j0 on of a wider matrix are packed by passing
// pairs + 2 * j0 and that matrix's width.
void pack_bf16_pairs_transposed(const float* bt, int64_t k, int64_t n, int64_t ldbt,
                                uint16_t* pairs, int64_t ldp);
inline void pack_bf16_pairs_transposed(const float* bt, int64_t k, int64_t n, int64_t ldbt,
                                       uint16_t* pairs) {
  pack_bf16_pairs_transposed(bt, k, n, ldbt, pairs, n);
}

// c (m x n, row stride ldc) = a (m x k, row stride lda, k even) times packed b (k x n).
void gemm_bf16(const uint16_t* a, int64_t lda, const uint16_t* b_pairs, float* c, int64_t ldc,
               int64_t m, int64_t n, int64_t k);

// A weight matrix (rows x k floats, row-major) rounded once for products with it on the left:
// rows of bf16_depth(k) bfloat16 numbers.
struct Bf16Rows {
  std::vector<uint16_t> values;
  int64_t rows = 0, k = 0, depth = 0;
  Bf16Rows() = default;
  Bf16Rows(const float* a, int64_t row_count, int64_t width);
};

// c (a.rows x n, row stride ldc) = a times b (a.k rows of n floats, row stride ldb): b rounded
// and packed into `pairs` (scratch, resized as needed) first. On the calling thread.
void gemm_bf16_floats(const Bf16Rows& a, const float* b, int64_t ldb, int64_t n, float* c,
                      int64_t ldc, std::vector<uint16_t>& pairs);

}  // namespace msaas::demucs
