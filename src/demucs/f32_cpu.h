// demucs/f32_cpu.h: a float32 matrix product for products whose second factor is read many
// times, on CPUs with AVX-512: attention's scores, a block of queries times a head's keys
// (depth 64), and DConv's 1x1 convolution (depth 6 to 48). OpenBLAS packs both factors anew on
// every call and reaches about 90 GFLOP/s per core on that shape; with the keys laid out once per
// head (row-major, k x n), this kernel keeps a tile of 6 rows by 64 columns of sums in registers
// over the whole depth (docs/benchmarks.md, point 24). Each sum runs over the depth in order, one
// fused multiply-add per term. Since point 32 the exact mode's other products run on it too:
// attention's weighted values, the linear layers (linear_f32_cpu.h) and the convolutions'
// weight products (weight_product_cpu.h).
//
// The kernel is built with GCC on x86-64 (intrinsics behind a target attribute); elsewhere
// f32_products_available() is false and callers keep their BLAS product.
#pragma once

#include <cstdint>

namespace msaas::demucs {

// True where this CPU runs AVX-512F and the kernel was built (GCC, x86-64); gemm_f32 needs it.
bool f32_products_available();

// c (m x n, row stride ldc) = a (m x k, row stride lda) times b (k x n, row stride ldb).
void gemm_f32(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
              int64_t m, int64_t n, int64_t k);

}  // namespace msaas::demucs
