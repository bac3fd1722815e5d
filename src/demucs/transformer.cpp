// demucs/transformer.cpp: see transformer.h. Mirrors demucs/transformer.py for inference
// (dropout off, dense attention).
#include "demucs/transformer.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <cmath>

#include "demucs/attention_cpu.h"
#include "demucs/bf16_cpu.h"
#include "demucs/feed_forward_bf16_cpu.h"
#include "demucs/group_norm_cpu.h"
#include "demucs/linear_f32_cpu.h"
#include "demucs/linear_int8_cpu.h"
#include "msaas/engine.h"

namespace msaas::demucs {

TransformerConfig read_transformer_config(const Kwargs& k, int64_t dim) {
  TransformerConfig c;
  c.dim = dim;
  c.num_heads = k.integer("t_heads", 8);
  c.num_layers = k.integer("t_layers", 5);
  c.hidden_scale = k.number("t_hidden_scale", 4.0);
  c.max_period = k.number("t_max_period", 10000.0);
  c.weight_pos_embed = k.number("t_weight_pos_embed", 1.0);
  c.emb = k.text("t_emb", "sin");
  c.cross_first = k.flag("t_cross_first", false);
  c.norm_in = k.flag("t_norm_in", true);
  c.norm_in_group = k.flag("t_norm_in_group", false);
  c.group_norm = k.flag("t_group_norm", false);
  c.norm_first = k.flag("t_norm_first", true);
  c.norm_out = k.flag("t_norm_out", true);
  c.layer_scale = k.flag("t_layer_scale", true);
  c.gelu = k.flag("t_gelu", true);
  c.cape_mean_normalize = k.flag("t_cape_mean_normalize", true);
  c.max_positions = k.integer("t_max_positions", 10000);
  if (k.flag("t_sparse_self_attn", false) || k.flag("t_sparse_cross_attn", false))
    throw ModelError("sparse-attention transformers (xformers) are not supported");
  if (k.integer("t_sin_random_shift", 0) != 0)
    throw ModelError("t_sin_random_shift > 0 makes inference random; not supported");
  if (c.emb != "sin" && c.emb != "cape" && c.emb != "scaled")
    throw ModelError("unknown transformer embedding '" + c.emb + "'");
  if (dim % c.num_heads) throw ModelError("transformer width is not a multiple of its heads");
  return c;
}

at::Tensor Attention::operator()(const at::Tensor& q, const at::Tensor& kv) const {
  return out(attend(q, kv));
}

// Fast mode (CPU autocast) leaves autocast for attention up to its output projection: autocast's
// bfloat16 products round their outputs, and rounded queries, keys and scores moved the
// softmax's weights enough to cost a stem up to 0.56 dB of SDR. Here the projections and both
// products take bfloat16 factors with float32 sums (linear_bf16_cpu, attention_cpu), where the
// CPU has AVX-512 BF16, else float32 (docs/quality.md); the projections take int8 factors
// where asked for (fast_linear_cpu, int8_products_preferred). The output
// projection is Linear's, which does the same in fast mode (nn.cpp); the feed-forward layers are
// feed_forward_bf16_cpu's. (A GPU's autocast is not left out here.)
at::Tensor Attention::attend(const at::Tensor& q_in, const at::Tensor& kv_in) const {
  bool fast_mode = at::autocast::is_cpu_enabled();
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  bool self = q_in.is_same(kv_in);
  auto q = q_in.is_cpu() ? q_in.to(at::kFloat) : q_in;
  auto kv = self ? q : kv_in.is_cpu() ? kv_in.to(at::kFloat) : kv_in;
  int64_t B = q.size(0), Tq = q.size(1), Tk = kv.size(1), C = q.size(2), d = C / heads;
  auto weight = as_float(in_weight);
  auto linear = [&](const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
    if (fast_mode)
      if (auto y = fast_linear_cpu(x, w, b, true)) return *y;
    if (auto y = linear_f32_cpu(x, w, b)) return *y;
    return at::linear(x, w, b);
  };
  at::Tensor query, key, value;
  if (self) {  // self-attention: the three projections as one product
    auto qkv = linear(q, weight, in_bias).chunk(3, -1);
    query = qkv[0], key = qkv[1], value = qkv[2];
  } else {
    query = linear(q, weight.slice(0, 0, C), in_bias.slice(0, 0, C));
    auto kv_proj = linear(kv, weight.slice(0, C), in_bias.slice(0, C)).chunk(2, -1);
    key = kv_proj[0], value = kv_proj[1];
  }
  query = query / std::sqrt(static_cast<double>(d));
  flop_counter().add(double(B) * (Tq + 2 * Tk) * C * C  // q, k, v projections
                     + 2.0 * B * heads * Tq * Tk * d);  // scores and weighted values
  if (auto y = attention_cpu(query, key, value, heads, fast_mode)) return *y;
  // Elsewhere (GPU) one head at a time: the same arithmetic as all heads at once,
  // with an eighth of the memory for the (Tq, Tk) score matrix, the model's largest tensor.
  auto split = [&](const at::Tensor& t, int64_t T) {
    return t.view({B, T, heads, d}).transpose(1, 2);
  };
  query = split(query, Tq), key = split(key.contiguous(), Tk),
  value = split(value.contiguous(), Tk);
  auto y = at::empty({B, heads, Tq, d}, q.options());
  for (int64_t h = 0; h < heads; ++h) {
    auto scores = at::matmul(query.select(1, h), key.select(1, h).transpose(-2, -1));
    y.select(1, h).copy_(at::matmul(at::softmax(scores, -1), value.select(1, h)));
  }
  return y.transpose(1, 2).reshape({B, Tq, C});
}

// MyGroupNorm transposes to (B, C, T) for nn.GroupNorm and back, which would leave the token
// stream in a transposed layout that every later norm copies and every element-wise op strides
// through. With one group (the only kind the models use) its statistics run over all of a batch
// item's T x C numbers, then the per-channel affine, on the tokens as they lie: on the CPU in
// parallel over blocks of tokens (group_norm_cpu.cpp), elsewhere as a layer norm over (T, C).
at::Tensor TokenNorm::operator()(const at::Tensor& x) const {
  if (!group) return layer(x);
  const GroupNorm& g = group_norm;
  if (g.groups != 1 || g.identity) return g(x.transpose(1, 2)).transpose(1, 2);
  auto tokens = x.to(g.weight.scalar_type());
  if (auto y = token_group_norm_cpu(tokens, g.weight, g.bias, g.eps)) return *y;
  auto normed = at::layer_norm(tokens, {x.size(1), x.size(2)}, {}, {}, g.eps);
  return at::addcmul(g.bias, normed, g.weight);
}

namespace {

enum class NormKind { layer_norm, group_norm };  // MyGroupNorm when group_norm (transformer.py)

NormKind norm_kind(bool group_norm) {
  return group_norm ? NormKind::group_norm : NormKind::layer_norm;
}

TokenNorm make_token_norm(Weights& w, const std::string& prefix, int64_t dim, NormKind kind) {
  TokenNorm n;
  bool group = kind == NormKind::group_norm;
  n.group = group;
  if (group)
    n.group_norm = make_group_norm(w, prefix, 1, dim);
  else
    n.layer = make_layer_norm(w, prefix, dim);
  return n;
}

Attention make_attention(Weights& w, const std::string& prefix, int64_t dim, int64_t heads) {
  Attention a;
  a.in_weight = w.take_stored(prefix + ".in_proj_weight", {3 * dim, dim});
  a.in_bias = w.take(prefix + ".in_proj_bias", {3 * dim});
  a.out = make_linear(w, prefix + ".out_proj", dim, dim);
  a.out.int8_in_fast_mode = true;
  a.heads = heads;
  return a;
}

}  // namespace

TransformerLayer::TransformerLayer(Weights& w, const std::string& p, const TransformerConfig& c,
                                   bool cross)
    : cross_(cross), norm_first_(c.norm_first), gelu_(c.gelu) {
  int64_t dim = c.dim, hidden = static_cast<int64_t>(dim * c.hidden_scale);
  attn_ = make_attention(w, p + (cross ? ".cross_attn" : ".self_attn"), dim, c.num_heads);
  linear1_ = make_linear(w, p + ".linear1", dim, hidden);
  linear2_ = make_linear(w, p + ".linear2", hidden, dim);
  norm1_ = make_token_norm(w, p + ".norm1", dim, norm_kind(c.group_norm));
  norm2_ = make_token_norm(w, p + ".norm2", dim, norm_kind(c.group_norm));
  if (cross) norm3_ = make_token_norm(w, p + ".norm3", dim, norm_kind(c.group_norm));
  if (c.norm_first && c.norm_out)
    norm_out_ = make_token_norm(w, p + ".norm_out", dim, NormKind::group_norm);
  if (c.layer_scale) {
    gamma1_ = w.take(p + ".gamma_1.scale", {dim});
    gamma2_ = w.take(p + ".gamma_2.scale", {dim});
  }
}

namespace {

// stream + gamma * y (LayerScale) in one pass over the tokens.
at::Tensor add_scaled(const at::Tensor& stream, const at::Tensor& gamma, const at::Tensor& y) {
  return gamma.defined() ? at::addcmul(stream, gamma, y) : stream + y;
}

}  // namespace

// Fast mode (CPU autocast) on a CPU with AVX-512 BF16 or VNNI: both layers in one pass
// (feed_forward_bf16_cpu; int8 factors where int8_products_preferred), with the norm before them
// and the residual sum after them where the layer is norm-first and its norm a layer norm.
// Elsewhere layer by layer.
bool TransformerLayer::feed_forward_in_one_pass(const at::Tensor& x) const {
  return at::autocast::is_cpu_enabled() && x.is_cpu() &&
         (bf16_products_available() || int8_products_preferred());
}

FeedForwardWeights TransformerLayer::feed_forward_weights() const {
  return {as_float(linear1_.weight),
          linear1_.bias,
          as_float(linear2_.weight),
          linear2_.bias,
          gelu_ ? Activation::gelu : Activation::relu,
          int8_products_preferred()};
}

void TransformerLayer::count_feed_forward(const at::Tensor& x) const {
  flop_counter().add(static_cast<double>(x.numel()) / x.size(-1) *
                     (linear1_.weight.numel() + linear2_.weight.numel()));
}

at::Tensor TransformerLayer::feed_forward(const at::Tensor& x) const {
  if (feed_forward_in_one_pass(x)) {
    c10::impl::ExcludeDispatchKeyGuard keep_float32(c10::DispatchKey::AutocastCPU);
    if (auto y = feed_forward_bf16_cpu(x.to(at::kFloat), feed_forward_weights())) {
      count_feed_forward(x);
      return *y;
    }
  }
  return linear2_(linear1_(x, gelu_ ? AfterLinear::gelu : AfterLinear::relu));
}

at::Tensor TransformerLayer::feed_forward_half(const at::Tensor& stream,
                                               const TokenNorm& norm) const {
  if (feed_forward_in_one_pass(stream) && !norm.group) {
    c10::impl::ExcludeDispatchKeyGuard keep_float32(c10::DispatchKey::AutocastCPU);
    NormAndResidual around{norm.layer.weight, norm.layer.bias, norm.layer.eps, gamma2_};
    if (auto y = feed_forward_bf16_cpu(stream.to(at::kFloat), feed_forward_weights(), around)) {
      count_feed_forward(stream);
      return *y;
    }
  }
  return add_scaled(stream, gamma2_, feed_forward(norm(stream)));
}

at::Tensor TransformerLayer::operator()(const at::Tensor& x, const at::Tensor& other) const {
  at::Tensor out;
  if (!cross_) {
    if (norm_first_) {
      auto n = norm1_(x);
      out = add_scaled(x, gamma1_, attn_(n, n));
      out = feed_forward_half(out, norm2_);
    } else {
      out = norm1_(add_scaled(x, gamma1_, attn_(x, x)));
      out = norm2_(add_scaled(out, gamma2_, feed_forward(out)));
    }
  } else {
    if (norm_first_) {
      out = add_scaled(x, gamma1_, attn_(norm1_(x), norm2_(other)));
      out = feed_forward_half(out, norm3_);
    } else {
      out = norm1_(add_scaled(x, gamma1_, attn_(x, other)));
      out = norm2_(add_scaled(out, gamma2_, feed_forward(out)));
    }
  }
  if (norm_out_) out = (*norm_out_)(out);
  return out;
}

CrossTransformerEncoder::CrossTransformerEncoder(Weights& w, const std::string& p,
                                                 const TransformerConfig& c)
    : c_(c) {
  if (c.norm_in) {
    norm_in_ = make_token_norm(w, p + ".norm_in", c.dim, NormKind::layer_norm);
    norm_in_t_ = make_token_norm(w, p + ".norm_in_t", c.dim, NormKind::layer_norm);
  } else if (c.norm_in_group) {
    norm_in_ = make_token_norm(w, p + ".norm_in", c.dim, NormKind::group_norm);
    norm_in_t_ = make_token_norm(w, p + ".norm_in_t", c.dim, NormKind::group_norm);
  }
  if (c.emb == "scaled")  // ScaledEmbedding(max_positions, dim, scale=0.2): boost of 3
    position_embeddings_ =
        w.take(p + ".position_embeddings.embedding.weight", {c.max_positions, c.dim}) * 3.0;
  int parity = c.cross_first ? 1 : 0;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    bool cross = i % 2 != parity;
    layers_.emplace_back(w, p + ".layers." + std::to_string(i), c, cross);
    layers_t_.emplace_back(w, p + ".layers_t." + std::to_string(i), c, cross);
  }
}

at::Tensor CrossTransformerEncoder::pos_embedding(int64_t length, int64_t batch,
                                                  int64_t dim) const {
  if (c_.emb == "scaled") return position_embeddings_.slice(0, 0, length).unsqueeze(1);
  if (c_.emb == "cape") {  // eval: no augmentation, positions centred on their mean
    auto pos = at::arange(length, at::kFloat).view({-1, 1, 1}).repeat({1, batch, 1});
    if (c_.cape_mean_normalize) pos = pos - pos.mean(0, true);
    auto adim = at::arange(dim / 2, at::kLong).view({1, 1, -1});
    auto phase = pos / at::pow(c_.max_period, adim / (dim / 2 - 1));
    return at::cat({at::cos(phase), at::sin(phase)}, -1);
  }
  return create_sin_embedding(length, dim, c_.max_period);
}

void CrossTransformerEncoder::operator()(at::Tensor& x, at::Tensor& xt) const {
  int64_t B = x.size(0), C = x.size(1), Fr = x.size(2), T1 = x.size(3);
  auto pos2d = create_2d_sin_embedding(C, Fr, T1, c_.max_period)
                   .permute({0, 3, 2, 1})
                   .reshape({1, T1 * Fr, C})
                   .to(x.device());
  x = x.permute({0, 3, 2, 1}).reshape({B, T1 * Fr, C});
  if (norm_in_) x = (*norm_in_)(x);
  x = x + c_.weight_pos_embed * pos2d;
  int64_t T2 = xt.size(2);
  xt = xt.permute({0, 2, 1});
  auto pos = pos_embedding(T2, B, C).permute({1, 0, 2}).to(xt.device());
  if (norm_in_t_) xt = (*norm_in_t_)(xt);
  xt = xt + c_.weight_pos_embed * pos;
  int parity = c_.cross_first ? 1 : 0;
  for (int64_t i = 0; i < c_.num_layers; ++i) {
    if (i % 2 == parity) {
      x = layers_[i](x);
      xt = layers_t_[i](xt);
    } else {
      auto old_x = x;
      x = layers_[i](x, xt);
      xt = layers_t_[i](xt, old_x);
    }
  }
  x = x.view({B, T1, Fr, C}).permute({0, 3, 2, 1});
  xt = xt.permute({0, 2, 1});
}

at::Tensor create_sin_embedding(int64_t length, int64_t dim, double max_period) {
  auto pos = at::arange(length, at::kLong).view({-1, 1, 1});
  int64_t half_dim = dim / 2;
  auto adim = at::arange(half_dim, at::kLong).view({1, 1, -1});
  auto phase = pos / at::pow(max_period, adim / (half_dim - 1));
  return at::cat({at::cos(phase), at::sin(phase)}, -1);
}

at::Tensor create_2d_sin_embedding(int64_t d_model, int64_t height, int64_t width,
                                   double max_period) {
  if (d_model % 4) throw ModelError("2D sin embedding needs a width that is a multiple of 4");
  auto pe = at::zeros({d_model, height, width});
  int64_t half = d_model / 2;
  auto div_term = at::exp(at::arange(0.0, static_cast<double>(half), 2.0, at::kFloat) *
                          -(std::log(max_period) / half));
  auto pos_w = at::arange(0.0, static_cast<double>(width), 1.0, at::kFloat).unsqueeze(1);
  auto pos_h = at::arange(0.0, static_cast<double>(height), 1.0, at::kFloat).unsqueeze(1);
  auto w_sin = at::sin(pos_w * div_term).t().unsqueeze(1).repeat({1, height, 1});
  auto w_cos = at::cos(pos_w * div_term).t().unsqueeze(1).repeat({1, height, 1});
  auto h_sin = at::sin(pos_h * div_term).t().unsqueeze(2).repeat({1, 1, width});
  auto h_cos = at::cos(pos_h * div_term).t().unsqueeze(2).repeat({1, 1, width});
  pe.slice(0, 0, half, 2).copy_(w_sin);
  pe.slice(0, 1, half, 2).copy_(w_cos);
  pe.slice(0, half, d_model, 2).copy_(h_sin);
  pe.slice(0, half + 1, d_model, 2).copy_(h_cos);
  return pe.unsqueeze(0);
}

}  // namespace msaas::demucs
