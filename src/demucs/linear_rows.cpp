// demucs/linear_rows.cpp: see linear_rows.h.
#include "demucs/linear_rows.h"

#include "demucs/backend.h"
#include "demucs/vector_clones.h"

namespace msaas::demucs {

bool linear_kernels_apply(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!own_cpu_kernels_apply(x) || !own_cpu_kernels_apply(weight)) return false;
  if (bias.defined() && !own_cpu_kernels_apply(bias)) return false;
  if (x.dim() < 1 || x.size(-1) == 0 || weight.dim() != 2 || weight.size(1) != x.size(-1))
    return false;
  return !bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0));
}

LinearRows::LinearRows(const at::Tensor& x, const at::Tensor& b, int64_t width)
    : rows(x.reshape({-1, x.size(-1)}).contiguous()),
      bias(b.defined() ? b.contiguous() : b),
      y(at::empty({rows.size(0), width}, rows.options())),
      m(rows.size(0)),
      k(rows.size(1)),
      n(width),
      in(rows.data_ptr<float>()),
      bias_values(bias.defined() ? bias.data_ptr<float>() : nullptr),
      out(y.data_ptr<float>()) {}

at::Tensor LinearRows::result(const at::Tensor& x) const {
  auto sizes = x.sizes().vec();
  sizes.back() = n;
  return y.view(sizes);
}

MSAAS_VECTOR_CLONES
void add_bias_to_rows(float* out, int64_t rows, int64_t n, const float* bias) {
  if (!bias) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) out[r * n + j] += bias[j];
}

}  // namespace msaas::demucs
