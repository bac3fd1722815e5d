// demucs/bf16_cpu.cpp: see bf16_cpu.h. The product kernel is compiled for AVX-512 BF16 alone
// (a target attribute); the engine itself stays built for any x86-64 and asks
// bf16_products_available() first.
#include "demucs/bf16_cpu.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "demucs/vector_clones.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#include "demucs/avx512_tiles.h"
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
using namespace avx512;

// One tile: R rows of c, J * 16 columns, summed over all k, each pair of a's row broadcast once
// and used J times.
template <int R, int J>
struct ProductTile {
  __attribute__((target("avx512f,avx512bf16"))) static void run(const uint16_t* a, int64_t lda,
                                                                const uint16_t* b, int64_t n,
                                                                float* c, int64_t ldc, int64_t k,
                                                                __mmask16 last) {
    Sums<R, J> sums;
    sums.zero();
    for (int64_t p = 0; p < k / 2; ++p) {
      const uint16_t* row_pair = b + p * n * 2;
      __m512bh columns[J];
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
        columns[j] = (__m512bh)_mm512_maskz_loadu_epi32(vector_mask(j, J, last), row_pair + 32 * j);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        int32_t pair;
        std::memcpy(&pair, a + r * lda + 2 * p, sizeof pair);
        auto both = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 4
        for (int j = 0; j < J; ++j) sums.v[r][j] = _mm512_dpbf16_ps(sums.v[r][j], both, columns[j]);
      }
    }
    sums.store(c, ldc, last);
  }
};

using Tile = void (*)(const uint16_t*, int64_t, const uint16_t*, int64_t, float*, int64_t, int64_t,
                      __mmask16);
constexpr auto kTiles = tile_table<Tile, ProductTile>();
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

void round_rows_to_bf16(const float* in, int64_t ld, int64_t rows, int64_t k, uint16_t* out,
                        int64_t out_ld) {
  for (int64_t r = 0; r < rows; ++r) {
    round_to_bf16(in + r * ld, out + r * out_ld, k);
    std::fill(out + r * out_ld + k, out + (r + 1) * out_ld, 0);
  }
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

// Sixteen of b's columns at a time: their pairs, rounded from bt's contiguous rows into a block
// in L1, then written out one whole 64-byte line per pair of rows (scattered 2-byte writes took
// 1.6 ms for a 512 x 1536 weight, four times longer).
MSAAS_VECTOR_CLONES
void pack_bf16_pairs_transposed(const float* bt, int64_t k, int64_t n, int64_t ldbt,
                                uint16_t* pairs, int64_t ldp) {
  if (ldp < n) throw std::invalid_argument("pack_bf16_pairs_transposed: ldp < n");
  constexpr int64_t kColumns = 16;
  int64_t depth = bf16_depth(k);
  std::vector<uint32_t> block(kColumns * depth / 2);  // block[c * depth / 2 + p]: a pair
  for (int64_t j0 = 0; j0 < n; j0 += kColumns) {
    int64_t columns = std::min(kColumns, n - j0);
    for (int64_t c = 0; c < columns; ++c) {
      const float* column = bt + (j0 + c) * ldbt;
      uint32_t* out = block.data() + c * depth / 2;
      for (int64_t p = 0; p < k / 2; ++p)
        out[p] = uint32_t(rounded(column[2 * p])) | uint32_t(rounded(column[2 * p + 1])) << 16;
      if (k % 2) out[k / 2] = rounded(column[k - 1]);
    }
    for (int64_t p = 0; p < depth / 2; ++p) {
      uint16_t* line = pairs + (p * ldp + j0) * 2;
      for (int64_t c = 0; c < columns; ++c) {
        uint32_t pair = block[c * depth / 2 + p];
        line[2 * c] = uint16_t(pair);
        line[2 * c + 1] = uint16_t(pair >> 16);
      }
    }
  }
}

void gemm_bf16(const uint16_t* a, int64_t lda, const uint16_t* b_pairs, float* c, int64_t ldc,
               int64_t m, int64_t n, int64_t k) {
  if (k % 2 != 0 || !bf16_products_available())
    throw std::logic_error("gemm_bf16: needs AVX-512 BF16 and an even k");
#ifdef MSAAS_HAVE_BF16_KERNEL
  for_each_tile(m, n, [&](int64_t row, int rows, int64_t column, int vectors, __mmask16 last) {
    kTiles[rows - 1][vectors - 1](a + row * lda, lda, b_pairs + column * 2, n,
                                  c + row * ldc + column, ldc, k, last);
  });
#else
  (void)a, (void)lda, (void)b_pairs, (void)c, (void)ldc, (void)m,
      (void)n;  // unreachable: thrown above
#endif
}

Bf16Rows::Bf16Rows(const float* a, int64_t row_count, int64_t width)
    : values(row_count * bf16_depth(width)), rows(row_count), k(width), depth(bf16_depth(width)) {
  round_rows_to_bf16(a, k, rows, k, values.data(), depth);
}

void gemm_bf16_floats(const Bf16Rows& a, const float* b, int64_t ldb, int64_t n, float* c,
                      int64_t ldc, std::vector<uint16_t>& pairs) {
  pairs.resize(a.depth * n);
  pack_bf16_pairs(b, a.k, n, ldb, pairs.data());
  gemm_bf16(a.values.data(), a.depth, pairs.data(), c, ldc, a.rows, n, a.depth);
}

}  // namespace msaas::demucs
