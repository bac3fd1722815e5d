// demucs/group_norm_cpu.cpp: see group_norm_cpu.h. Built with -O3 -fopenmp-simd
// (src/CMakeLists.txt); the loops are compiled for AVX-512, AVX2 and plain x86-64.
#include "demucs/group_norm_cpu.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "demucs/parallel_items.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {
namespace {

// Tokens per work item: 64 of 512 channels, 128 KB.
constexpr int64_t kTokens = 64;

MSAAS_VECTOR_CLONES
void add_moments(const float* p, int64_t n, double& sum, double& squares) {
  double s = 0, q = 0;
#pragma omp simd reduction(+ : s, q)
  for (int64_t i = 0; i < n; ++i) {
    double v = p[i];
    s += v;
    q += v * v;
  }
  sum += s, squares += q;
}

MSAAS_VECTOR_CLONES
void apply_to_tokens(const float* x, int64_t tokens, int64_t channels, const float* a,
                     const float* b, float* y) {
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < channels; ++c) y[t * channels + c] = x[t * channels + c] * a[c] + b[c];
}

}  // namespace

void Moments::add(const float* p, int64_t n) {
  add_moments(p, n, sum, squares);
  count += n;
}

NormAffine::NormAffine(const Moments& m, const at::Tensor& weight, const at::Tensor& bias,
                       double eps) {
  double mean = m.sum / m.count;
  float var = static_cast<float>(std::max(0.0, m.squares / m.count - mean * mean));
  float rstd = 1.f / std::sqrt(var + static_cast<float>(eps));
  const float* w = weight.data_ptr<float>();
  const float* bias_c = bias.data_ptr<float>();
  for (int64_t i = 0; i < weight.numel(); ++i) {
    a.push_back(rstd * w[i]);
    b.push_back(-a.back() * static_cast<float>(mean) + bias_c[i]);
  }
}

std::optional<at::Tensor> token_group_norm_cpu(const at::Tensor& x, const at::Tensor& weight,
                                               const at::Tensor& bias, double eps) {
  // Inference only: the result carries no gradient.
  if (!x.is_cpu() || x.scalar_type() != at::kFloat || x.dim() != 3 || x.numel() == 0 ||
      x.requires_grad())
    return std::nullopt;
  int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  for (const auto* t : {&weight, &bias})
    if (!t->is_cpu() || t->scalar_type() != at::kFloat || t->numel() != C) return std::nullopt;
  auto in = x.contiguous();
  auto w = weight.contiguous(), bias_c = bias.contiguous();
  auto y = at::empty_like(in);
  // Work items: blocks of kTokens tokens, every batch item's in one list.
  int64_t blocks = (T + kTokens - 1) / kTokens;
  auto block = [&](int64_t item) {
    int64_t b = item / blocks, t0 = item % blocks * kTokens;
    int64_t offset = (b * T + t0) * C;
    return std::tuple{b, offset, std::min(T, t0 + kTokens) - t0};
  };
  const float* src = in.data_ptr<float>();
  float* dst = y.data_ptr<float>();
  // Each block's sums kept apart and added in order: the same statistics on any thread count.
  std::vector<Moments> parts(B * blocks);
  parallel_items<NoState>(B * blocks, [&](NoState&, int64_t i) {
    auto [b, offset, tokens] = block(i);
    parts[i].add(src + offset, tokens * C);
  });
  std::vector<NormAffine> affines;
  for (int64_t b = 0; b < B; ++b) {
    Moments total;
    for (int64_t i = b * blocks; i < (b + 1) * blocks; ++i) total.add(parts[i]);
    affines.emplace_back(total, w, bias_c, eps);
  }
  parallel_items<NoState>(B * blocks, [&](NoState&, int64_t i) {
    auto [b, offset, tokens] = block(i);
    const NormAffine& affine = affines[b];
    apply_to_tokens(src + offset, tokens, C, affine.a.data(), affine.b.data(), dst + offset);
  });
  return y;
}

}  // namespace msaas::demucs
