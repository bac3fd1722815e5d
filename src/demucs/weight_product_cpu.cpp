// demucs/weight_product_cpu.cpp: see weight_product_cpu.h.
#include "demucs/weight_product_cpu.h"

#include "demucs/f32_cpu.h"

namespace msaas::demucs {

WeightProduct::WeightProduct(const at::Tensor& weight, bool bf16_products)
    : weight_(weight.contiguous()) {
  if (bf16_products && bf16_products_available())
    rounded_.emplace(weight_.data_ptr<float>(), weight_.size(0), weight_.size(1));
}

void WeightProduct::operator()(const float* b, int64_t ldb, int64_t n, float* c, int64_t ldc,
                               std::vector<uint16_t>& pairs) const {
  if (rounded_) {
    gemm_bf16_floats(*rounded_, b, ldb, n, c, ldc, pairs);
    return;
  }
  int64_t m = weight_.size(0), k = weight_.size(1);
  if (f32_products_available()) {
    gemm_f32(weight_.data_ptr<float>(), k, b, ldb, c, ldc, m, n, k);
    return;
  }
  auto columns = at::from_blob(const_cast<float*>(b), {k, n}, {ldb, 1}, at::kFloat);
  auto out = at::from_blob(c, {m, n}, {ldc, 1}, at::kFloat);
  at::mm_out(out, weight_, columns);
}

}  // namespace msaas::demucs
