// demucs/int8_cpu.cpp: see int8_cpu.h. The kernel and the quantizing loops are compiled for
// AVX-512 VNNI alone (target attributes); the engine itself stays built for any x86-64 and asks
// int8_products_available() first.
#include "demucs/int8_cpu.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#include "demucs/avx512_tiles.h"
#define MSAAS_HAVE_INT8_KERNEL 1
#endif

namespace msaas::demucs {

#ifdef MSAAS_HAVE_INT8_KERNEL
namespace {

using namespace avx512;

#define MSAAS_INT8_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

// The mask of the columns j0 to j0 + 15 that lie before k.
MSAAS_INT8_TARGET inline __mmask16 columns_before(int64_t j0, int64_t k) {
  int64_t left = k - j0;
  return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
}

// The intrinsics below avoid those that start from an undefined vector (_mm512_abs_ps,
// _mm512_max_ps, _mm512_reduce_*, the unmasked conversions): GCC 12 warns that it is
// uninitialised.

// |v|: the sign bit cleared.
MSAAS_INT8_TARGET inline __m512 magnitude(__m512 v) {
  __m512i bits = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff));
  return _mm512_castsi512_ps(bits);
}

// x (k floats) rounded to integers on one symmetric scale, plus `offset`, into k bytes; returns
// the scale (NaN where x holds an infinity or a NaN, 0 for zeros).
MSAAS_INT8_TARGET float quantize_row(const float* x, int64_t k, int32_t offset, uint8_t* out) {
  __m512 largest = _mm512_setzero_ps(), nonfinite = _mm512_setzero_ps();
  for (int64_t j = 0; j < k; j += 16) {
    __m512 v = _mm512_maskz_loadu_ps(columns_before(j, k), x + j);
    largest = _mm512_maskz_max_ps(0xffff, largest, magnitude(v));
    nonfinite = _mm512_add_ps(nonfinite, _mm512_mul_ps(v, _mm512_setzero_ps()));  // NaN if any
  }
  alignas(64) float lanes[16], checks[16];
  _mm512_store_ps(lanes, largest);
  _mm512_store_ps(checks, nonfinite);
  float most = 0.0f, check = 0.0f;
  for (int i = 0; i < 16; ++i) most = std::max(most, lanes[i]), check += checks[i];
  if (check != 0.0f) {
    std::memset(out, offset, k);
    return std::numeric_limits<float>::quiet_NaN();
  }
  float to_integers = most > 0.0f ? 127.0f / most : 0.0f;
  if (to_integers > std::numeric_limits<float>::max()) to_integers = most = 0.0f;  // as zeros
  __m512 factor = _mm512_set1_ps(to_integers);
  __m512i shift = _mm512_set1_epi32(offset);
  for (int64_t j = 0; j < k; j += 16) {
    __mmask16 mask = columns_before(j, k);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + j), factor);
    __m512i q =
        _mm512_maskz_cvt_roundps_epi32(mask, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm512_mask_cvtepi32_storeu_epi8(out + j, mask, _mm512_add_epi32(q, shift));
  }
  return most / 127.0f;
}

// Where a tile's rows and columns take their scales, offsets and bias from.
struct Dequantize {
  const float* row_scales;
  const float* column_scales;
  const int32_t* offsets;
  const float* bias;  // nullptr: none
};

// One tile: R rows of c, J * 16 columns, summed over all k in 32-bit integers, each quad of a's
// row broadcast once and used J times; then the offset taken off and the scales applied.
template <int R, int J>
struct ProductTile {
  MSAAS_INT8_TARGET static void run(const uint8_t* a, int64_t lda, const int8_t* b, int64_t n,
                                    float* c, int64_t ldc, int64_t k, __mmask16 last,
                                    const Dequantize& d) {
    __m512i sums[R][J];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) sums[r][j] = _mm512_setzero_si512();
    for (int64_t p = 0; p < k / 4; ++p) {
      const int8_t* quad_row = b + p * n * 4;
      __m512i columns[J];
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
        columns[j] = _mm512_maskz_loadu_epi32(vector_mask(j, J, last), quad_row + 64 * j);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        int32_t quad;
        std::memcpy(&quad, a + r * lda + 4 * p, sizeof quad);
        __m512i all = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
        for (int j = 0; j < J; ++j) sums[r][j] = _mm512_dpbusd_epi32(sums[r][j], all, columns[j]);
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) {
      __mmask16 mask = vector_mask(j, J, last);
      __m512 scale = _mm512_maskz_loadu_ps(mask, d.column_scales + 16 * j);
      __m512i offset = _mm512_maskz_loadu_epi32(mask, d.offsets + 16 * j);
      __m512 bias = d.bias ? _mm512_maskz_loadu_ps(mask, d.bias + 16 * j) : _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m512 sum = _mm512_maskz_cvtepi32_ps(mask, _mm512_sub_epi32(sums[r][j], offset));
        __m512 both = _mm512_mul_ps(_mm512_set1_ps(d.row_scales[r]), scale);
        _mm512_mask_storeu_ps(c + r * ldc + 16 * j, mask, _mm512_fmadd_ps(sum, both, bias));
      }
    }
  }
};

using Tile = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, float*, int64_t, int64_t,
                      __mmask16, const Dequantize&);
constexpr auto kTiles = tile_table<Tile, ProductTile>();

}  // namespace
#endif

bool int8_products_available() {
#ifdef MSAAS_HAVE_INT8_KERNEL
  static const bool available = __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vnni");
  return available;
#else
  return false;
#endif
}

bool int8_products_preferred() {
  const char* choice = std::getenv("MSAAS_FAST_INT8");
  return int8_products_available() && choice && std::string(choice) == "1";
}

namespace {

void require_kernel(const char* what) {
  if (!int8_products_available())
    throw std::logic_error(std::string(what) + ": needs AVX-512 VNNI");
}

}  // namespace

Int8Weight int8_weight_of_size(int64_t n, int64_t k) {
  if (n < 0 || k < 1 || k > kMaxInt8Depth)
    throw std::invalid_argument("int8_weight_of_size: depth " + std::to_string(k) +
                                " outside 1 to " + std::to_string(kMaxInt8Depth));
  Int8Weight w;
  w.n = n, w.k = k, w.depth = int8_depth(k);
  w.quads.assign(w.depth * n, 0);
  w.scales.assign(n, 0.0f);
  w.offsets.assign(n, 0);
  return w;
}

// Sixteen rows at a time: quantized into a block in L1, then written out one whole 64-byte line
// per quad (as pack_bf16_pairs_transposed does with its pairs).
void quantize_weight_rows(const float* w, int64_t j0, int64_t count, Int8Weight& out) {
  require_kernel("quantize_weight_rows");
  if (j0 < 0 || count < 0 || j0 + count > out.n)
    throw std::invalid_argument("quantize_weight_rows: rows past the weight");
#ifdef MSAAS_HAVE_INT8_KERNEL
  constexpr int64_t kBlock = 16;
  int64_t k = out.k, depth = out.depth, n = out.n;
  std::vector<int8_t> block(kBlock * depth);
  for (int64_t b0 = j0; b0 < j0 + count; b0 += kBlock) {
    int64_t rows = std::min(kBlock, j0 + count - b0);
    std::fill(block.begin(), block.end(), 0);
    for (int64_t r = 0; r < rows; ++r) {
      int8_t* q = block.data() + r * depth;
      out.scales[b0 + r] = quantize_row(w + (b0 + r) * k, k, 0, reinterpret_cast<uint8_t*>(q));
      int32_t sum = 0;
      for (int64_t i = 0; i < k; ++i) sum += q[i];
      out.offsets[b0 + r] = 128 * sum;
    }
    for (int64_t p = 0; p < depth / 4; ++p) {
      int8_t* line = out.quads.data() + (p * n + b0) * 4;
      for (int64_t r = 0; r < rows; ++r) std::memcpy(line + 4 * r, &block[r * depth + 4 * p], 4);
    }
  }
#else
  (void)w;
#endif
}

void quantize_rows_u8(const float* in, int64_t ld, int64_t rows, int64_t k, uint8_t* out,
                      int64_t out_ld, float* scales) {
  require_kernel("quantize_rows_u8");
  if (out_ld < k) throw std::invalid_argument("quantize_rows_u8: out_ld < k");
#ifdef MSAAS_HAVE_INT8_KERNEL
  for (int64_t r = 0; r < rows; ++r) {
    scales[r] = quantize_row(in + r * ld, k, 128, out + r * out_ld);
    std::memset(out + r * out_ld + k, 128, out_ld - k);
  }
#else
  (void)in, (void)ld, (void)rows, (void)k, (void)out, (void)out_ld, (void)scales;
#endif
}

void gemm_u8s8(const uint8_t* a, int64_t lda, const float* a_scales, const Int8Weight& w,
               const float* bias, float* c, int64_t ldc, int64_t m) {
  require_kernel("gemm_u8s8");
  if (lda < w.depth) throw std::invalid_argument("gemm_u8s8: lda < the weight's depth");
#ifdef MSAAS_HAVE_INT8_KERNEL
  for_each_tile(m, w.n, [&](int64_t row, int rows, int64_t column, int vectors, __mmask16 last) {
    Dequantize d{a_scales + row, w.scales.data() + column, w.offsets.data() + column,
                 bias ? bias + column : nullptr};
    kTiles[rows - 1][vectors - 1](a + row * lda, lda, w.quads.data() + column * 4, w.n,
                                  c + row * ldc + column, ldc, w.depth, last, d);
  });
#else
  (void)a, (void)lda, (void)a_scales, (void)w, (void)bias, (void)c, (void)ldc, (void)m;
#endif
}

}  // namespace msaas::demucs
