// demucs/transformer.h: the cross-domain transformer of HTDemucs (demucs/transformer.py):
// alternating self-attention and cross-attention layers over the spectral and temporal branches.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "demucs/feed_forward_bf16_cpu.h"
#include "demucs/nn.h"

namespace msaas::demucs {

struct TransformerConfig {
  int64_t dim = 384, num_heads = 8, num_layers = 5;
  double hidden_scale = 4.0, max_period = 10000.0, weight_pos_embed = 1.0;
  std::string emb = "sin";
  bool cross_first = false, norm_in = true, norm_in_group = false, group_norm = false;
  bool norm_first = true, norm_out = true, layer_scale = true, gelu = true;
  bool cape_mean_normalize = true;
  int64_t max_positions = 10000;
};

TransformerConfig read_transformer_config(const Kwargs& k, int64_t dim);

// nn.MultiheadAttention (packed in_proj, batch first, no mask).
struct Attention {
  at::Tensor in_weight, in_bias;
  Linear out;
  int64_t heads = 8;
  at::Tensor operator()(const at::Tensor& q, const at::Tensor& kv) const;
  // Everything before the output projection: the heads' outputs, (B, Tq, C), float32 on the CPU
  // in fast mode too (a test checks how fast mode reaches the kernel through it).
  at::Tensor attend(const at::Tensor& q, const at::Tensor& kv) const;
};

// LayerNorm over channels, or MyGroupNorm (GroupNorm over time and channels of a (B, T, C)).
struct TokenNorm {
  bool group = false;
  LayerNorm layer;
  GroupNorm group_norm;
  at::Tensor operator()(const at::Tensor& x) const;
};

// MyTransformerEncoderLayer (self-attention) or CrossTransformerEncoderLayer (cross-attention).
class TransformerLayer {
 public:
  TransformerLayer(Weights& w, const std::string& prefix, const TransformerConfig& c, bool cross);
  at::Tensor operator()(const at::Tensor& x, const at::Tensor& other = {}) const;

 private:
  at::Tensor feed_forward(const at::Tensor& x) const;
  // stream + gamma2 * feed_forward(norm(stream)): a norm-first layer's second half.
  at::Tensor feed_forward_half(const at::Tensor& stream, const TokenNorm& norm) const;
  bool feed_forward_in_one_pass(const at::Tensor& x) const;  // fast mode, AVX-512 BF16
  FeedForwardWeights feed_forward_weights() const;
  void count_feed_forward(const at::Tensor& x) const;
  bool cross_, norm_first_, gelu_;
  Attention attn_;
  Linear linear1_, linear2_;
  TokenNorm norm1_, norm2_, norm3_;
  std::optional<TokenNorm> norm_out_;
  at::Tensor gamma1_, gamma2_;  // LayerScale, undefined when disabled
};

class CrossTransformerEncoder {
 public:
  CrossTransformerEncoder(Weights& w, const std::string& prefix, const TransformerConfig& c);
  // x: (B, C, Fr, T1) spectral branch, xt: (B, C, T2) temporal branch; both updated.
  void operator()(at::Tensor& x, at::Tensor& xt) const;

 private:
  at::Tensor pos_embedding(int64_t length, int64_t batch, int64_t dim) const;
  TransformerConfig c_;
  std::optional<TokenNorm> norm_in_, norm_in_t_;
  at::Tensor position_embeddings_;  // emb == "scaled"
  std::vector<TransformerLayer> layers_, layers_t_;
};

// Positional embeddings, as create_sin_embedding / create_2d_sin_embedding compute them.
at::Tensor create_sin_embedding(int64_t length, int64_t dim, double max_period);
at::Tensor create_2d_sin_embedding(int64_t d_model, int64_t height, int64_t width,
                                   double max_period);

}  // namespace msaas::demucs
