// demucs/exp_cpu.h: exp, the logistic sigmoid and GELU as plain float arithmetic, for the
// engine's own loops (attention's softmax, DConv's GLU, fast mode's feed-forward layers) to
// vectorise: a call to libm or to ATen's Sleef kernels per element or per small row would not.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace msaas::demucs {

// exp(x) for x <= 0, to a few ulp: exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln 2 / 2,
// exp(r) by a degree-7 polynomial fitted for floats. NaN stays NaN (ATen's kernels do the same).
// Below -87 it gives 0: values under 1.7e-38 change no sum they join, and need not be multiplied
// (nor, in bfloat16, be subnormal).
inline float exp_nonpositive(float x) {
  bool negligible = x < -87.0f;
  x = std::max(x, -87.0f);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer...
  float shifted = x * 1.44269504f + kRound;
  float n = shifted - kRound;
  // ...which its low bits then hold (no float-to-int conversion, undefined for NaN).
  uint32_t n_bits = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kRound);
  // ln 2 in two parts, the first exact in few bits, so that n * ln 2 loses nothing.
  float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  auto scale = std::bit_cast<float>((n_bits + 127u) << 23);  // 2^n, n >= -126
  return negligible ? 0.0f : p * scale;
}

// 1 / (1 + exp(-x)) to a few ulp, from exp of -|x| so that nothing overflows: for x >= 0 that is
// 1 / (1 + e), for x < 0 e / (1 + e). NaN stays NaN; below -87 it gives 0 (exp_nonpositive), where
// the true value is under 1.7e-38.
inline float sigmoid(float x) {
  float e = exp_nonpositive(-std::abs(x));
  float inverse = 1.0f / (1.0f + e);
  return x >= 0.0f ? inverse : e * inverse;
}

// GELU, x Phi(x) with Phi the normal distribution's function, to within 2.2e-7 plus a float ulp
// of the result (ATen's erf-based GELU is within an ulp or two): Phi(-|x|) = erfc(|x| / sqrt 2)
// / 2, erfc by Abramowitz and Stegun's formula 7.1.26 (a polynomial in t = 1 / (1 + p z) times
// exp(-z^2), error under 1.5e-7). Fast mode alone uses it, where its error is far below the
// mode's own: the feed-forward layers round the result to bfloat16 next, and DConv's hidden
// layer takes bfloat16 factors before it. Far left the relative error grows (1 % at x = -8) on
// values under 1e-14. NaN stays NaN, large x gives x, x below -13.2 gives 0 (-inf gives NaN, as
// ATen's does).
inline float gelu(float x) {
  float z = std::abs(x) * 0.70710678f;
  float t = 1.0f / (1.0f + 0.3275911f * z);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  float lower_tail = 0.5f * (p * t) * exp_nonpositive(-z * z);  // Phi(-|x|)
  return x * (x >= 0.0f ? 1.0f - lower_tail : lower_tail);
}

}  // namespace msaas::demucs
