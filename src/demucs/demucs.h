// demucs/demucs.h: the residual pieces the hybrid models share, from demucs/demucs.py: DConv
// (dilated convolutions with optional BLSTM and LocalState attention) and LayerScale.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "demucs/dconv_cpu.h"
#include "demucs/nn.h"

namespace msaas::demucs {

struct DConvConfig {
  double compress = 4;
  int64_t depth = 2;
  bool attn = false;
  bool lstm = false;
  bool gelu = true;
  int64_t kernel = 3;
  int64_t heads = 4;   // LocalState
  int64_t ndecay = 4;  // LocalState
};

// Bi-directional LSTM over time, applied on overlapping chunks of max_steps (BLSTM, skip=True).
class BLSTM {
 public:
  BLSTM(Weights& w, const std::string& prefix, int64_t dim, int64_t layers = 2,
        int64_t max_steps = 200);
  at::Tensor operator()(const at::Tensor& x) const;

 private:
  at::Tensor run_lstm(const at::Tensor& x) const;  // x: [B, C, T] -> [B, C, T]
  std::vector<at::Tensor> params_;
  Linear linear_;
  int64_t dim_, layers_, max_steps_;
};

// Attention over time with a learnt decay with distance (LocalState, nfreqs=0).
class LocalState {
 public:
  LocalState(Weights& w, const std::string& prefix, int64_t channels, int64_t heads,
             int64_t ndecay);
  at::Tensor operator()(const at::Tensor& x) const;

 private:
  Conv content_, query_, key_, query_decay_, proj_;
  int64_t heads_, ndecay_;
};

class DConv {
 public:
  DConv(Weights& w, const std::string& prefix, int64_t channels, const DConvConfig& config);
  at::Tensor operator()(at::Tensor x) const;
  // The fused CPU kernel (dconv_cpu.h) takes CPU input of [B, C, T] or [B, C, F, T] when the
  // branches hold neither LSTM nor attention: float32, or in fast mode (autocast) also bfloat16.
  // It returns float32. In fast mode its first convolution takes bfloat16 factors with float32
  // sums where the CPU has AVX-512 BF16; everything else stays float32 (docs/benchmarks.md).
  bool can_fuse(const at::Tensor& x) const;
  at::Tensor fused(const at::Tensor& x) const;

 private:
  struct Layer {
    Conv conv_in;
    GroupNorm norm_in;
    std::optional<BLSTM> lstm;
    std::optional<LocalState> attn;
    Conv conv_out;
    GroupNorm norm_out;
    at::Tensor scale;  // LayerScale
  };
  std::vector<Layer> layers_;
  std::vector<DConvBranch> fused_;  // empty when a branch has an LSTM or attention
  bool gelu_;
};

}  // namespace msaas::demucs
