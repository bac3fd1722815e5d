// demucs/htdemucs.h: Hybrid Transformer Demucs (demucs/htdemucs.py): the hybrid encoder/decoder
// of HDemucs with a cross-domain transformer at the bottleneck.
#pragma once

#include <memory>
#include <optional>

#include "demucs/hdemucs.h"
#include "demucs/model.h"
#include "demucs/transformer.h"

namespace msaas::demucs {

class HTDemucs : public Model {
 public:
  HTDemucs(const Kwargs& kwargs, Weights& weights);
  at::Tensor forward(const at::Tensor& mix) const override;
  int64_t valid_length(int64_t length) const override;
  bool is_transformer() const override { return true; }
  std::string klass() const override { return "HTDemucs"; }

 private:
  HybridConfig c_;
  bool use_train_segment_ = true;
  int64_t bottom_channels_ = 0;
  std::unique_ptr<HybridStack> stack_;
  std::optional<CrossTransformerEncoder> transformer_;
  Conv up_, down_, up_t_, down_t_;  // channel_(up|down)sampler(_t), when bottom_channels > 0
};

}  // namespace msaas::demucs
