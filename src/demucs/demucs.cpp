// demucs/demucs.cpp: see demucs.h. Module names in the checkpoint follow nn.Sequential indexes,
// which shift when the optional LSTM and attention are inserted at position 3.
#include "demucs/demucs.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <cmath>

namespace msaas::demucs {

BLSTM::BLSTM(Weights& w, const std::string& prefix, int64_t dim, int64_t layers, int64_t max_steps)
    : dim_(dim), layers_(layers), max_steps_(max_steps) {
  for (int64_t l = 0; l < layers; ++l) {
    int64_t in = l == 0 ? dim : 2 * dim;
    for (std::string suffix : {"", "_reverse"}) {
      std::string p = prefix + ".lstm.";
      std::string n = "_l" + std::to_string(l) + suffix;
      params_.push_back(w.take_stored(p + "weight_ih" + n, {4 * dim, in}));
      params_.push_back(w.take_stored(p + "weight_hh" + n, {4 * dim, dim}));
      params_.push_back(w.take(p + "bias_ih" + n, {4 * dim}));
      params_.push_back(w.take(p + "bias_hh" + n, {4 * dim}));
    }
  }
  linear_ = make_linear(w, prefix + ".linear", 2 * dim, dim);
}

at::Tensor BLSTM::run_lstm(const at::Tensor& x) const {
  auto seq = x.permute({2, 0, 1});  // T, B, C
  double steps = static_cast<double>(seq.size(0)) * seq.size(1);
  for (int64_t l = 0; l < layers_; ++l)  // two directions, four gates each
    flop_counter().add(2 * steps * 4 * dim_ * ((l == 0 ? dim_ : 2 * dim_) + dim_));
  auto zeros = at::zeros({2 * layers_, seq.size(1), dim_}, seq.options());
  std::vector<at::Tensor> params;
  for (const auto& p : params_) params.push_back(as_float(p));
  auto out =
      std::get<0>(at::lstm(seq, {zeros, zeros}, params, true, layers_, 0.0, false, true, false));
  return linear_(out).permute({1, 2, 0});
}

at::Tensor BLSTM::operator()(const at::Tensor& x) const {
  int64_t B = x.size(0), C = x.size(1), T = x.size(2);
  if (T <= max_steps_) return run_lstm(x) + x;
  // demucs.utils.unfold: overlapping frames of max_steps with stride max_steps / 2.
  int64_t width = max_steps_, stride = width / 2;
  int64_t nframes = (T + stride - 1) / stride;
  auto padded = at::constant_pad_nd(x, {0, (nframes - 1) * stride + width - T}).contiguous();
  auto strides = padded.strides().vec();
  strides.back() = stride;
  strides.push_back(1);
  auto frames = padded.as_strided({B, C, nframes, width}, strides);
  auto y = run_lstm(frames.permute({0, 2, 1, 3}).reshape({-1, C, width}));
  auto framed = y.reshape({B, -1, C, width});
  int64_t limit = stride / 2;
  std::vector<at::Tensor> parts;
  for (int64_t k = 0; k < nframes; ++k) {
    auto f = framed.select(1, k);
    if (k == 0)
      parts.push_back(f.slice(-1, 0, width - limit));
    else if (k == nframes - 1)
      parts.push_back(f.slice(-1, limit));
    else
      parts.push_back(f.slice(-1, limit, width - limit));
  }
  return at::cat(parts, -1).slice(-1, 0, T) + x;
}

LocalState::LocalState(Weights& w, const std::string& prefix, int64_t channels, int64_t heads,
                       int64_t ndecay)
    : heads_(heads), ndecay_(ndecay) {
  content_ = make_conv(w, prefix + ".content", 1, channels, channels, {1});
  query_ = make_conv(w, prefix + ".query", 1, channels, channels, {1});
  key_ = make_conv(w, prefix + ".key", 1, channels, channels, {1});
  query_decay_ = make_conv(w, prefix + ".query_decay", 1, channels, heads * ndecay, {1});
  proj_ = make_conv(w, prefix + ".proj", 1, channels, channels, {1});
}

at::Tensor LocalState::operator()(const at::Tensor& x) const {
  int64_t B = x.size(0), T = x.size(2);
  auto indexes = at::arange(T, x.options());
  auto delta = indexes.unsqueeze(1) - indexes.unsqueeze(0);
  auto queries = query_(x).view({B, heads_, -1, T});
  auto keys = key_(x).view({B, heads_, -1, T});
  auto dots = at::einsum("bhct,bhcs->bhts", {keys, queries});
  dots = dots / std::sqrt(static_cast<double>(keys.size(2)));
  auto decays = at::arange(1, ndecay_ + 1, x.options());
  auto decay_q = at::sigmoid(query_decay_(x).view({B, heads_, -1, T})) / 2;
  auto decay_kernel = -decays.view({-1, 1, 1}) * delta.abs() / std::sqrt(double(ndecay_));
  dots = dots + at::einsum("fts,bhfs->bhts", {decay_kernel, decay_q});
  dots.masked_fill_(at::eye(T, x.options().dtype(at::kBool)), -100);
  auto weights = at::softmax(dots, 2);
  auto content = content_(x).view({B, heads_, -1, T});
  auto result = at::einsum("bhts,bhct->bhcs", {weights, content}).reshape({B, -1, T});
  return x + proj_(result);
}

DConv::DConv(Weights& w, const std::string& prefix, int64_t channels, const DConvConfig& c)
    : gelu_(c.gelu) {
  bool dilate = c.depth > 0;
  int64_t depth = std::abs(c.depth);
  int64_t hidden = static_cast<int64_t>(channels / c.compress);
  for (int64_t d = 0; d < depth; ++d) {
    int64_t dilation = dilate ? (int64_t(1) << d) : 1;
    int64_t padding = dilation * (c.kernel / 2);
    std::string p = prefix + ".layers." + std::to_string(d) + ".";
    int64_t next = 3;  // nn.Sequential index after conv, norm, activation
    Layer layer;
    layer.conv_in =
        make_conv(w, p + "0", 1, channels, hidden, {c.kernel}, {1}, {padding}, {dilation});
    layer.norm_in = make_group_norm(w, p + "1", 1, hidden);
    if (c.lstm) layer.lstm.emplace(w, p + std::to_string(next++), hidden);
    if (c.attn) layer.attn.emplace(w, p + std::to_string(next++), hidden, c.heads, c.ndecay);
    layer.conv_out = make_conv(w, p + std::to_string(next), 1, hidden, 2 * channels, {1});
    layer.norm_out = make_group_norm(w, p + std::to_string(next + 1), 1, 2 * channels);
    layer.scale = w.take(p + std::to_string(next + 3) + ".scale", {channels});
    layers_.push_back(std::move(layer));
  }
  if (c.lstm || c.attn) return;
  for (const auto& l : layers_) {
    DConvBranch b;
    b.conv_in_weight = as_float(l.conv_in.weight).permute({2, 0, 1}).reshape({-1, channels});
    b.conv_in_weight = b.conv_in_weight.contiguous();
    b.conv_in_bias = l.conv_in.bias.contiguous();
    b.norm_in_weight = l.norm_in.weight, b.norm_in_bias = l.norm_in.bias;
    b.conv_out_weight = as_float(l.conv_out.weight).squeeze(-1).contiguous();
    b.conv_out_bias = l.conv_out.bias.contiguous();
    b.norm_out_weight = l.norm_out.weight, b.norm_out_bias = l.norm_out.bias;
    b.scale = l.scale.contiguous();
    b.dilation = l.conv_in.dilation[0], b.padding = l.conv_in.padding[0];
    b.eps = l.norm_in.eps;
    fused_.push_back(std::move(b));
  }
}

at::Tensor DConv::fused(const at::Tensor& x) const {
  double per_position = 0;  // both convolutions' multiply-adds, as Conv counts them
  for (const auto& b : fused_) per_position += b.conv_in_weight.numel() + b.conv_out_weight.numel();
  flop_counter().add(per_position * static_cast<double>(x.numel() / x.size(1)));
  // Fast mode: bfloat16 factors with float32 sums for its first convolution (dconv_cpu.h),
  // never autocast's (which would round every output to bfloat16).
  bool fast_mode = at::autocast::is_cpu_enabled();
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return dconv_cpu(fused_, gelu_, x.to(at::kFloat), fast_mode);
}

bool DConv::can_fuse(const at::Tensor& x) const {
  bool dtype = x.scalar_type() == at::kFloat ||
               (x.scalar_type() == at::kBFloat16 && at::autocast::is_cpu_enabled());
  return !fused_.empty() && x.is_cpu() && dtype && fused_.front().conv_in_weight.is_cpu();
}

at::Tensor DConv::operator()(at::Tensor x) const {
  bool own_x = false;  // the caller's tensor is never written to; our own sums are
  for (const auto& l : layers_) {
    auto y = l.norm_in(l.conv_in(x));
    gelu_ ? at::gelu_(y) : at::relu_(y);
    if (l.lstm) y = (*l.lstm)(y);
    if (l.attn) y = (*l.attn)(y);
    y = at::glu(l.norm_out(l.conv_out(y)), 1);
    y.mul_(l.scale.unsqueeze(1));
    if (own_x) {
      x.add_(y);
    } else {
      x = x + y;
      own_x = true;
    }
  }
  return x;
}

}  // namespace msaas::demucs
