// demucs/avx512_tiles.h: what the engine's AVX-512 product kernels (f32_cpu.cpp, bf16_cpu.cpp)
// share: a tile of float32 sums, up to 6 rows by 4 vectors of 16 columns held in registers (24 of
// the 32), and the walk over an output in such tiles. Included only where the kernels are built
// (GCC on x86-64); every function here is compiled for AVX-512F alone.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace msaas::demucs::avx512 {

#define MSAAS_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline

constexpr int kRowsPerTile = 6;
constexpr int kColumnVectors = 4;  // 64 columns per tile

// The mask of vector j of a tile J vectors wide: `last` masks the columns of the last vector
// that lie past the output's width.
MSAAS_AVX512_INLINE __mmask16 vector_mask(int j, int J, __mmask16 last) {
  return j == J - 1 ? last : __mmask16(0xffff);
}

// R rows by J vectors of float32 sums.
template <int R, int J>
struct Sums {
  __m512 v[R][J];

  MSAAS_AVX512_INLINE void zero() {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) v[r][j] = _mm512_setzero_ps();
  }
  MSAAS_AVX512_INLINE void store(float* c, int64_t ldc, __mmask16 last) const {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
        _mm512_mask_storeu_ps(c + r * ldc + 16 * j, vector_mask(j, J, last), v[r][j]);
  }
};

// Kernel<R, J>::run for every tile shape: table[rows - 1][vectors - 1].
template <class Fn, template <int, int> class Kernel, int R>
constexpr std::array<Fn, kColumnVectors> tiles_of_height() {
  return {Kernel<R, 1>::run, Kernel<R, 2>::run, Kernel<R, 3>::run, Kernel<R, 4>::run};
}
template <class Fn, template <int, int> class Kernel>
constexpr std::array<std::array<Fn, kColumnVectors>, kRowsPerTile> tile_table() {
  return {tiles_of_height<Fn, Kernel, 1>(), tiles_of_height<Fn, Kernel, 2>(),
          tiles_of_height<Fn, Kernel, 3>(), tiles_of_height<Fn, Kernel, 4>(),
          tiles_of_height<Fn, Kernel, 5>(), tiles_of_height<Fn, Kernel, 6>()};
}

// Calls visit(row, rows, column, vectors, last) for every tile of an m x n output: panels of 64
// columns, each walked down 6 rows at a time, so that a panel of the second factor stays in the
// cache while every row of the first passes it.
template <class Visit>
void for_each_tile(int64_t m, int64_t n, Visit visit) {
  for (int64_t column = 0; column < n; column += 16 * kColumnVectors) {
    int64_t width = std::min<int64_t>(16 * kColumnVectors, n - column);
    int vectors = int((width + 15) / 16);
    auto last = __mmask16(width % 16 ? (1u << width % 16) - 1 : 0xffffu);
    for (int64_t row = 0; row < m; row += kRowsPerTile)
      visit(row, int(std::min<int64_t>(kRowsPerTile, m - row)), column, vectors, last);
  }
}

}  // namespace msaas::demucs::avx512
