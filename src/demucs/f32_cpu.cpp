// demucs/f32_cpu.cpp: see f32_cpu.h. The kernel is compiled for AVX-512F alone (a target
// attribute); the engine itself stays built for any x86-64 and asks f32_products_available().
#include "demucs/f32_cpu.h"

#include <stdexcept>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#include "demucs/avx512_tiles.h"
#define MSAAS_HAVE_F32_KERNEL 1
#endif

namespace msaas::demucs {
namespace {

#ifdef MSAAS_HAVE_F32_KERNEL
using namespace avx512;

// One tile: R rows of c, J * 16 columns, summed over all k, each number of a's row broadcast
// once and used J times.
template <int R, int J>
struct ProductTile {
  __attribute__((target("avx512f"))) static void run(const float* a, int64_t lda, const float* b,
                                                     int64_t ldb, float* c, int64_t ldc, int64_t k,
                                                     __mmask16 last) {
    Sums<R, J> sums;
    sums.zero();
    for (int64_t p = 0; p < k; ++p) {
      const float* row = b + p * ldb;
      __m512 columns[J];
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
        columns[j] = _mm512_maskz_loadu_ps(vector_mask(j, J, last), row + 16 * j);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m512 number = _mm512_set1_ps(a[r * lda + p]);
#pragma GCC unroll 4
        for (int j = 0; j < J; ++j)
          sums.v[r][j] = _mm512_fmadd_ps(number, columns[j], sums.v[r][j]);
      }
    }
    sums.store(c, ldc, last);
  }
};

using Tile = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t,
                      __mmask16);
constexpr auto kTiles = tile_table<Tile, ProductTile>();
#endif

}  // namespace

bool f32_products_available() {
#ifdef MSAAS_HAVE_F32_KERNEL
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
#else
  return false;
#endif
}

void gemm_f32(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
              int64_t m, int64_t n, int64_t k) {
  if (!f32_products_available()) throw std::logic_error("gemm_f32: needs AVX-512F");
#ifdef MSAAS_HAVE_F32_KERNEL
  for_each_tile(m, n, [&](int64_t row, int rows, int64_t column, int vectors, __mmask16 last) {
    kTiles[rows - 1][vectors - 1](a + row * lda, lda, b + column, ldb, c + row * ldc + column, ldc,
                                  k, last);
  });
#else
  (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc, (void)m, (void)n,
      (void)k;  // unreachable: thrown above
#endif
}

}  // namespace msaas::demucs
