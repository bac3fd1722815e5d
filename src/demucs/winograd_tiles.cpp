// demucs/winograd_tiles.cpp: see winograd_tiles.h. Each transform is written out, its matrices'
// zeros and ones left out; loops run over a row's blocks so the compiler vectorizes across them.
// F4x4's kernel transform is made in double precision and rounded once.
#include "demucs/winograd_tiles.h"

#include "demucs/vector_clones.h"

namespace msaas::demucs::winograd {
namespace {

// G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1], applied
// to three values.
inline void apply_g(double a, double b, double c, double* out) {
  constexpr double kSixth = 1.0 / 6, kTwelfth = 1.0 / 12, kTwentyFourth = 1.0 / 24;
  out[0] = 0.25 * a;
  out[1] = -kSixth * (a + b + c);
  out[2] = -kSixth * (a - b + c);
  out[3] = kTwentyFourth * a + kTwelfth * b + kSixth * c;
  out[4] = kTwentyFourth * a - kTwelfth * b + kSixth * c;
  out[5] = c;
}

// B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
// 0 4 0 -5 0 1], applied to six values.
inline void apply_bt(const float* x, float* out) {
  out[0] = 4 * x[0] - 5 * x[2] + x[4];
  out[1] = (x[3] + x[4]) - 4 * (x[1] + x[2]);
  out[2] = (x[4] - x[3]) + 4 * (x[1] - x[2]);
  out[3] = (x[4] - x[2]) + 2 * (x[3] - x[1]);
  out[4] = (x[4] - x[2]) - 2 * (x[3] - x[1]);
  out[5] = 4 * x[1] - 5 * x[3] + x[5];
}

// A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1], applied to six values.
inline void apply_at(const float* x, float* out) {
  float sum12 = x[1] + x[2], diff12 = x[1] - x[2], sum34 = x[3] + x[4], diff34 = x[3] - x[4];
  out[0] = x[0] + sum12 + sum34;
  out[1] = diff12 + 2 * diff34;
  out[2] = sum12 + 4 * sum34;
  out[3] = diff12 + 8 * diff34 + x[5];
}

}  // namespace

// G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], in float32 as it always was (fast mode's stems
// kept their bits).
template <>
MSAAS_VECTOR_CLONES void F2x2::weight(const float* g, int64_t count, float* u,
                                      int64_t point_stride) {
  for (int64_t j = 0; j < count; ++j) {
    const float* k = g + 9 * j;
    float gk[4][3];  // G g
    for (int c = 0; c < 3; ++c) {
      gk[0][c] = k[c];
      gk[1][c] = 0.5f * (k[c] + k[3 + c] + k[6 + c]);
      gk[2][c] = 0.5f * (k[c] - k[3 + c] + k[6 + c]);
      gk[3][c] = k[6 + c];
    }
    for (int r = 0; r < 4; ++r) {
      const float* a = gk[r];
      float row[4] = {a[0], 0.5f * (a[0] + a[1] + a[2]), 0.5f * (a[0] - a[1] + a[2]), a[2]};
      for (int c = 0; c < 4; ++c) u[(r * 4 + c) * point_stride + j] = row[c];
    }
  }
}

// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
template <>
MSAAS_VECTOR_CLONES void F2x2::input(const float* const* rows, int64_t blocks, float* __restrict v,
                                     int64_t point_stride) {
  const float* __restrict r0 = rows[0];
  const float* __restrict r1 = rows[1];
  const float* __restrict r2 = rows[2];
  const float* __restrict r3 = rows[3];
  for (int64_t t = 0; t < blocks; ++t) {
    float d[4][4];  // B^T d: the columns 2t - 1 ... 2t + 2
    for (int q = 0; q < 4; ++q) {
      int64_t i = 2 * t + q;
      d[0][q] = r0[i] - r2[i];
      d[1][q] = r1[i] + r2[i];
      d[2][q] = r2[i] - r1[i];
      d[3][q] = r1[i] - r3[i];
    }
    for (int a = 0; a < 4; ++a) {  // (B^T d) B
      v[(4 * a + 0) * point_stride + t] = d[a][0] - d[a][2];
      v[(4 * a + 1) * point_stride + t] = d[a][1] + d[a][2];
      v[(4 * a + 2) * point_stride + t] = d[a][2] - d[a][1];
      v[(4 * a + 3) * point_stride + t] = d[a][1] - d[a][3];
    }
  }
}

// A^T = [1 1 1 0; 0 1 -1 -1].
template <>
MSAAS_VECTOR_CLONES void F2x2::output(const float* __restrict m, int64_t point_stride,
                                      int64_t blocks, float bias, float* const* y) {
  float* __restrict y0 = y[0];
  float* __restrict y1 = y[1];
  for (int64_t t = 0; t < blocks; ++t) {
    float p[16];
    for (int k = 0; k < 16; ++k) p[k] = m[k * point_stride + t];
    float s[2][4];  // A^T m
    for (int q = 0; q < 4; ++q) {
      s[0][q] = p[q] + p[4 + q] + p[8 + q];
      s[1][q] = p[4 + q] - p[8 + q] - p[12 + q];
    }
    y0[2 * t] = s[0][0] + s[0][1] + s[0][2] + bias;
    y0[2 * t + 1] = s[0][1] - s[0][2] - s[0][3] + bias;
    y1[2 * t] = s[1][0] + s[1][1] + s[1][2] + bias;
    y1[2 * t + 1] = s[1][1] - s[1][2] - s[1][3] + bias;
  }
}

template <>
MSAAS_VECTOR_CLONES void F4x4::weight(const float* __restrict g, int64_t count, float* __restrict u,
                                      int64_t point_stride) {
  for (int64_t j = 0; j < count; ++j) {
    const float* k = g + 9 * j;
    double gk[6][3];  // G g
    for (int c = 0; c < 3; ++c) {
      double column[6];
      apply_g(k[c], k[3 + c], k[6 + c], column);
      for (int r = 0; r < 6; ++r) gk[r][c] = column[r];
    }
    for (int r = 0; r < 6; ++r) {
      double row[6];  // (G g) G^T
      apply_g(gk[r][0], gk[r][1], gk[r][2], row);
      for (int c = 0; c < 6; ++c) u[(r * 6 + c) * point_stride + j] = static_cast<float>(row[c]);
    }
  }
}

template <>
MSAAS_VECTOR_CLONES void F4x4::input(const float* const* rows, int64_t blocks, float* __restrict v,
                                     int64_t point_stride) {
  const float* __restrict r[6] = {rows[0], rows[1], rows[2], rows[3], rows[4], rows[5]};
  for (int64_t t = 0; t < blocks; ++t) {
    float d[6][6];  // B^T d, by columns: d[q] is column 4t - 1 + q
    for (int q = 0; q < 6; ++q) {
      int64_t i = 4 * t + q;
      float column[6] = {r[0][i], r[1][i], r[2][i], r[3][i], r[4][i], r[5][i]};
      apply_bt(column, d[q]);
    }
    for (int a = 0; a < 6; ++a) {  // (B^T d) B
      float row[6] = {d[0][a], d[1][a], d[2][a], d[3][a], d[4][a], d[5][a]}, out[6];
      apply_bt(row, out);
      for (int b = 0; b < 6; ++b) v[(6 * a + b) * point_stride + t] = out[b];
    }
  }
}

template <>
MSAAS_VECTOR_CLONES void F4x4::output(const float* __restrict m, int64_t point_stride,
                                      int64_t blocks, float bias, float* const* rows) {
  float* __restrict y[4] = {rows[0], rows[1], rows[2], rows[3]};
  for (int64_t t = 0; t < blocks; ++t) {
    float s[4][6];  // A^T m, by columns
    for (int q = 0; q < 6; ++q) {
      float column[6];
      for (int a = 0; a < 6; ++a) column[a] = m[(6 * a + q) * point_stride + t];
      float out[4];
      apply_at(column, out);
      for (int i = 0; i < 4; ++i) s[i][q] = out[i];
    }
    for (int i = 0; i < 4; ++i) {  // (A^T m) A
      float out[4];
      apply_at(s[i], out);
      for (int j = 0; j < 4; ++j) y[i][4 * t + j] = out[j] + bias;
    }
  }
}

void F4Row::weight(const float* g, int64_t count, float* u, int64_t point_stride) {
  for (int64_t j = 0; j < count; ++j) {
    double column[6];
    apply_g(g[3 * j], g[3 * j + 1], g[3 * j + 2], column);
    for (int k = 0; k < 6; ++k) u[k * point_stride + j] = static_cast<float>(column[k]);
  }
}

MSAAS_VECTOR_CLONES void F4Row::input(const float* __restrict row, int64_t blocks,
                                      float* __restrict v, int64_t point_stride) {
  for (int64_t t = 0; t < blocks; ++t) {
    float out[6];
    apply_bt(row + 4 * t, out);
    for (int k = 0; k < 6; ++k) v[k * point_stride + t] = out[k];
  }
}

MSAAS_VECTOR_CLONES void F4Row::output(const float* __restrict m, int64_t point_stride,
                                       int64_t blocks, float bias, float* __restrict y) {
  for (int64_t t = 0; t < blocks; ++t) {
    float column[6], out[4];
    for (int k = 0; k < 6; ++k) column[k] = m[k * point_stride + t];
    apply_at(column, out);
    for (int j = 0; j < 4; ++j) y[4 * t + j] = out[j] + bias;
  }
}

}  // namespace msaas::demucs::winograd
