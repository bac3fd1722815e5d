// demucs/group_norm_cpu.h: GroupNorm with one group on the CPU: its statistics (Moments, in
// double over up to millions of values), the per-channel affine they give, and the
// transformer's norm over a whole sequence of tokens (MyGroupNorm in transformer.py), which
// ATen runs as one layer-norm row: on one thread while the others wait.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace msaas::demucs {

// Sum and sum of squares, in double.
struct Moments {
  double sum = 0, squares = 0;
  int64_t count = 0;
  void add(const float* p, int64_t n);
  void add(const Moments& o) { sum += o.sum, squares += o.squares, count += o.count; }
};

// GroupNorm(1, channels) as ATen applies it: y = x * a[c] + b[c], a = rstd * weight,
// b = bias - a * mean.
struct NormAffine {
  std::vector<float> a, b;
  NormAffine(const Moments& m, const at::Tensor& weight, const at::Tensor& bias, double eps);
};

// y[b] = GroupNorm(1, C) of x[b] (B x T x C float32 tokens: the statistics over all T * C
// values, the affine per channel c), in parallel over blocks of tokens. nullopt where x is not
// a float32 CPU tensor of 3 dimensions or the weights do not fit (ATen's then).
std::optional<at::Tensor> token_group_norm_cpu(const at::Tensor& x, const at::Tensor& weight,
                                               const at::Tensor& bias, double eps);

}  // namespace msaas::demucs
