// demucs/bf16_cpu.cpp: see bf16_cpu.h. The product kernel is compiled for AVX-512 BF16 alone
// (a target attribute); the engine itself stays built for any x86-64 and asks
// bf16_products_available() first.
#include "demucs/bf16_cpu.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "demucs/vector_clones.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#include <immintrin.h>
#define MSAAS_HAVE_BF16_KERNEL 1
#endif

namespace msaas::demucs {
namespace {

// Round to nearest, ties to even, on the float's bits (what vcvtneps2bf16 does for normal
// numbers); a NaN stays a quiet NaN instead of rounding into infinity.
inline uint32_t rounded_high_half(uint32_t bits) {
  uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
  bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return nan ? (bits | 0x00400000u) & 0xffff0000u : rounded & 0xffff0000u;
}

inline uint16_t rounded(float x) {
  return uint16_t(rounded_high_half(std::bit_cast<uint32_t>(x)) >> 16);
}

#ifdef MSAAS_HAVE_BF16_KERNEL
#define MSAAS_BF16_TARGET __attribute__((target("avx512f,avx512bf16")))

// One tile: R rows of c, J * 16 columns, summed over all k. R * J accumulators stay in registers
// (at most 24 of the 32), each pair of a's row broadcast once and used J times. `last` masks the
// columns of the last vector that lie past n.
template <int R, int J>
MSAAS_BF16_TARGET void tile(const uint16_t* a, int64_t lda, const uint16_t* b, int64_t n, float* c,
                            int64_t ldc, int64_t k, __mmask16 last) {
  __m512 sum[R][J];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) sum[r][j] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k / 2; ++p) {
    const uint16_t* row_pair = b + p * n * 2;
    __m512bh columns[J];
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j)
      columns[j] = (__m512bh)_mm512_maskz_loadu_epi32(j == J - 1 ? last : __mmask16(0xffff),
                                                      row_pair + 32 * j);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * p, sizeof pair);
      auto both = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) sum[r][j] = _mm512_dpbf16_ps(sum[r][j], both, columns[j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j)
      _mm512_mask_storeu_ps(c + r * ldc + 16 * j, j == J - 1 ? last : __mmask16(0xffff), sum[r][j]);
}

using Tile = void (*)(const uint16_t*, int64_t, const uint16_t*, int64_t, float*, int64_t, int64_t,
                      __mmask16);
constexpr int kRowsPerTile = 6;
constexpr int kColumnVectors = 4;  // 64 columns per tile

template <int R>
constexpr Tile tile_of_width(int vectors) {
  switch (vectors) {
    case 1:
      return tile<R, 1>;
    case 2:
      return tile<R, 2>;
    case 3:
      return tile<R, 3>;
    default:
      return tile<R, 4>;
  }
}

Tile tile_for(int rows, int vectors) {
  switch (rows) {
    case 1:
      return tile_of_width<1>(vectors);
    case 2:
      return tile_of_width<2>(vectors);
    case 3:
      return tile_of_width<3>(vectors);
    case 4:
      return tile_of_width<4>(vectors);
    case 5:
      return tile_of_width<5>(vectors);
    default:
      return tile_of_width<6>(vectors);
  }
}
#endif

}  // namespace

bool bf16_products_available() {
#ifdef MSAAS_HAVE_BF16_KERNEL
  static const bool available =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return available;
#else
  return false;
#endif
}

MSAAS_VECTOR_CLONES
void round_to_bf16(const float* in, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = rounded(in[i]);
}

MSAAS_VECTOR_CLONES
void pack_bf16_pairs(const float* b, int64_t k, int64_t n, int64_t ldb, uint16_t* pairs) {
  for (int64_t p = 0; p < (k + 1) / 2; ++p) {
    const float* even = b + 2 * p * ldb;
    const float* odd = 2 * p + 1 < k ? even + ldb : nullptr;
    uint16_t* out = pairs + p * n * 2;
    for (int64_t j = 0; j < n; ++j) {
      out[2 * j] = rounded(even[j]);
      out[2 * j + 1] = odd ? rounded(odd[j]) : 0;
    }
  }
}

void gemm_bf16(const uint16_t* a, int64_t lda, const uint16_t* b_pairs, float* c, int64_t ldc,
               int64_t m, int64_t n, int64_t k) {
  if (k % 2 != 0 || !bf16_products_available())
    throw std::logic_error("gemm_bf16: needs AVX-512 BF16 and an even k");
#ifdef MSAAS_HAVE_BF16_KERNEL
  for (int64_t column = 0; column < n; column += 16 * kColumnVectors) {
    int64_t width = std::min<int64_t>(16 * kColumnVectors, n - column);
    int vectors = int((width + 15) / 16);
    auto last = __mmask16(width % 16 ? (1u << width % 16) - 1 : 0xffffu);
    for (int64_t row = 0; row < m; row += kRowsPerTile) {
      int rows = int(std::min<int64_t>(kRowsPerTile, m - row));
      tile_for(rows, vectors)(a + row * lda, lda, b_pairs + column * 2, n, c + row * ldc + column,
                              ldc, k, last);
    }
  }
#else
  (void)a, (void)lda, (void)b_pairs, (void)c, (void)ldc, (void)m,
      (void)n;  // unreachable: thrown above
#endif
}

}  // namespace msaas::demucs
