// demucs/winograd_tiles.h: the transforms of Winograd's minimal filtering for a 3x3 kernel (Lavin
// and Gray, 2016, "Fast Algorithms for Convolutional Neural Networks"), for winograd_cpu.cpp.
// F(M x M, 3 x 3) makes an M x M block of output from an N x N block of input, N = M + 2: with g
// a 3x3 kernel and d the block, U = G g G^T and V = B^T d B are N x N, and the block's output is
// A^T (sum over input channels of U . V) A.
// - F2x2: 16 products per 4 outputs (2.25x fewer than direct), transforms of 0 and +-1: nearly
//   a direct convolution's rounding.
// - F4x4: 36 products per 16 outputs (4x fewer), points 0, +-1, +-2: transforms up to 8 times an
//   input, so about 20 dB more rounding than F2x2 (still 110 dB and more against a double
//   precision convolution on the decoders' shapes).
#pragma once

#include <cstdint>

namespace msaas::demucs::winograd {

// F(M x M, 3 x 3); defined for M = 2 and 4.
template <int Side>
struct Tiles {
  static constexpr int M = Side, N = Side + 2;
  static constexpr int Points = N * N, Taps = 9;  // per kernel: transformed, as stored
  // u[k * point_stride + j] = (G g G^T)[k / N][k % N] for kernel j of `count` (9 floats each,
  // row-major, from g).
  static void weight(const float* g, int64_t count, float* u, int64_t point_stride);
  // V for a row of `blocks` blocks of one channel: rows[a] is input row a of the blocks, padded
  // (rows[a][0] is column -1, zeros past the image, M * blocks + 2 readable). Point k of block t
  // goes to v[k * point_stride + t].
  static void input(const float* const* rows, int64_t blocks, float* v, int64_t point_stride);
  // Y = A^T m A + bias for a row of blocks of one output channel: block t's point k is
  // m[k * point_stride + t]; its output row i goes to y[i][M * t ... M * t + M - 1].
  static void output(const float* m, int64_t point_stride, int64_t blocks, float bias,
                     float* const* y);
};

using F2x2 = Tiles<2>;
using F4x4 = Tiles<4>;

// F(4, 3) along one axis, the same points as F4x4: 6 products per 4 outputs instead of 12.
struct F4Row {
  static constexpr int M = 4, N = 6;
  static constexpr int Points = N, Taps = 3;
  // u[k * point_stride + j] = (G g)[k] for kernel j of `count` (3 floats each, from g).
  static void weight(const float* g, int64_t count, float* u, int64_t point_stride);
  // V for `blocks` blocks of one channel: row[0] is position -1 of the blocks, M * blocks + 2
  // readable. Point k of block t goes to v[k * point_stride + t].
  static void input(const float* row, int64_t blocks, float* v, int64_t point_stride);
  // y[M * t ... M * t + M - 1] = A^T m + bias for block t, its point k at m[k * point_stride + t].
  static void output(const float* m, int64_t point_stride, int64_t blocks, float bias, float* y);
};

}  // namespace msaas::demucs::winograd
