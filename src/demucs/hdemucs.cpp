// demucs/hdemucs.cpp: see hdemucs.h. Follows demucs/hdemucs.py line by line; comments point out
// where the shapes come from.
#include "demucs/hdemucs.h"

#include <cmath>

#include "demucs/spec.h"
#include "msaas/engine.h"

namespace msaas::demucs {

at::Tensor pad1d(const at::Tensor& x, int64_t left, int64_t right, bool reflect) {
  if (!reflect) return at::constant_pad_nd(x, {left, right});
  at::Tensor y = x;
  int64_t length = x.size(-1);
  int64_t max_pad = std::max(left, right);
  if (length <= max_pad) {  // reflect needs more samples than the pad: add zeros first
    int64_t extra = max_pad - length + 1;
    int64_t extra_right = std::min(right, extra);
    int64_t extra_left = extra - extra_right;
    left -= extra_left;
    right -= extra_right;
    y = at::constant_pad_nd(y, {extra_left, extra_right});
  }
  return at::pad(y, {left, right}, "reflect");
}

namespace {

// DConv works on time: in the frequency branch every frequency row is a batch item of its own.
// On the CPU the fused kernel (dconv_cpu.h, in fast mode too) reads the rows where they lie.
// Otherwise (a GPU, LSTM or attention in the branches) rows go through ATen in groups, so DConv's
// wide intermediate tensors (up to 4x its input) exist for one group at a time.
at::Tensor apply_dconv(const DConv& dconv, const at::Tensor& y, bool freq) {
  if (dconv.can_fuse(y)) return dconv.fused(y);
  if (!freq) return dconv(y);
  int64_t B = y.size(0), C = y.size(1), Fr = y.size(2), T = y.size(3);
  const int64_t group_elements = int64_t(1) << 21;  // 8 MB of float32 per group
  int64_t rows = std::max<int64_t>(1, group_elements / std::max<int64_t>(1, B * C * T));
  if (rows >= Fr) {
    auto out = dconv(y.permute({0, 2, 1, 3}).reshape({-1, C, T}));
    return out.view({B, Fr, C, T}).permute({0, 2, 1, 3});
  }
  auto out = at::empty_like(y);
  for (int64_t f = 0; f < Fr; f += rows) {
    int64_t n = std::min(rows, Fr - f);
    auto part = dconv(y.slice(2, f, f + n).permute({0, 2, 1, 3}).reshape({-1, C, T}));
    out.slice(2, f, f + n).copy_(part.view({B, n, C, T}).permute({0, 2, 1, 3}));
  }
  return out;
}

// glu(norm(rewrite(x)), dim 1), the rewrite of encoders and decoders: in one pass where the
// norm is the identity and the engine has a kernel for it (Conv::glu_in_one_pass). Elsewhere x
// is freed before the GLU's output is made (in one pass it is read to the end).
at::Tensor rewrite_and_glu(const Conv& rewrite, const GroupNorm& norm, at::Tensor x) {
  if (norm.identity)
    if (auto gated = rewrite.glu_in_one_pass(x)) return *gated;
  auto rewritten = norm(rewrite(x));
  x.reset();
  return at::glu(rewritten, 1);
}

}  // namespace

HEncLayer::HEncLayer(Weights& w, const std::string& p, const LayerConfig& c) : c_(c) {
  int64_t pad = c.pad ? c.kernel_size / 4 : 0;
  int dims = c.freq ? 2 : 1;
  if (c.freq)
    conv_ =
        make_conv(w, p + ".conv", 2, c.chin, c.chout, {c.kernel_size, 1}, {c.stride, 1}, {pad, 0});
  else
    conv_ = make_conv(w, p + ".conv", 1, c.chin, c.chout, {c.kernel_size}, {c.stride}, {pad});
  if (c.empty) return;
  norm1_ = c.norm ? make_group_norm(w, p + ".norm1", c.norm_groups, c.chout) : no_norm();
  if (c.rewrite) {
    int64_t k = 1 + 2 * c.context;
    rewrite_ = make_conv(w, p + ".rewrite", dims, c.chout, 2 * c.chout, {k}, {1}, {c.context});
    norm2_ = c.norm ? make_group_norm(w, p + ".norm2", c.norm_groups, 2 * c.chout) : no_norm();
  }
  if (c.dconv) dconv_.emplace(w, p + ".dconv", c.chout, c.dconv_kw);
}

at::Tensor HEncLayer::operator()(at::Tensor x, const std::optional<at::Tensor>& inject) const {
  if (!c_.freq && x.dim() == 4) x = x.view({x.size(0), -1, x.size(3)});
  if (!c_.freq) {
    int64_t le = x.size(-1);
    if (le % c_.stride) x = at::constant_pad_nd(x, {0, c_.stride - le % c_.stride});
  }
  auto y = conv_(x);
  if (c_.empty) return y;
  if (inject) {
    TORCH_CHECK(inject->size(-1) == y.size(-1), "time/frequency branches do not line up");
    y = y + (inject->dim() == 3 && y.dim() == 4 ? inject->unsqueeze(2) : *inject);
  }
  y = norm1_(y);
  at::gelu_(y);  // y is this layer's own: the convolution's (or the sum's, or the norm's) result
  if (dconv_) y = apply_dconv(*dconv_, y, c_.freq);
  if (!c_.rewrite) return y;
  return rewrite_and_glu(rewrite_, norm2_, std::move(y));
}

HDecLayer::HDecLayer(Weights& w, const std::string& p, const LayerConfig& c) : c_(c) {
  pad_ = c.pad ? c.kernel_size / 4 : 0;
  if (c.freq)
    conv_tr_ = make_conv(w, p + ".conv_tr", 2, c.chin, c.chout, {c.kernel_size, 1}, {c.stride, 1},
                         {}, {}, ConvKind::transposed);
  else
    conv_tr_ = make_conv(w, p + ".conv_tr", 1, c.chin, c.chout, {c.kernel_size}, {c.stride}, {}, {},
                         ConvKind::transposed);
  norm2_ = c.norm ? make_group_norm(w, p + ".norm2", c.norm_groups, c.chout) : no_norm();
  if (c.empty) return;
  if (c.rewrite) {
    int64_t k = 1 + 2 * c.context;
    if (!c.freq)
      rewrite_ = make_conv(w, p + ".rewrite", 1, c.chin, 2 * c.chin, {k}, {1}, {c.context});
    else if (c.context_freq)
      rewrite_ = make_conv(w, p + ".rewrite", 2, c.chin, 2 * c.chin, {k}, {1}, {c.context});
    else
      rewrite_ = make_conv(w, p + ".rewrite", 2, c.chin, 2 * c.chin, {1, k}, {1}, {0, c.context});
    norm1_ = c.norm ? make_group_norm(w, p + ".norm1", c.norm_groups, 2 * c.chin) : no_norm();
  }
  if (c.dconv) dconv_.emplace(w, p + ".dconv", c.chin, c.dconv_kw);
}

std::pair<at::Tensor, at::Tensor> HDecLayer::operator()(at::Tensor x,
                                                        std::optional<at::Tensor> skip,
                                                        int64_t length) const {
  if (c_.freq && x.dim() == 3) x = x.view({x.size(0), c_.chin, -1, x.size(2)});
  at::Tensor y;
  if (c_.empty) {
    y = std::move(x);
  } else {
    x = x + *skip;  // frees the input, if the caller moved it in
    skip.reset();
    if (c_.rewrite) {
      y = rewrite_and_glu(rewrite_, norm1_, std::move(x));
    } else {
      y = std::move(x);
    }
    if (dconv_) y = apply_dconv(*dconv_, y, c_.freq);
  }
  auto z = norm2_(conv_tr_(y));
  if (c_.freq) {
    if (pad_) z = z.slice(2, pad_, z.size(2) - pad_);
  } else {
    z = z.slice(-1, pad_, pad_ + length);
    TORCH_CHECK(z.size(-1) == length, "decoder output length mismatch");
  }
  // z is this layer's own (the transposed convolution's output). In place, GELU keeps z's type
  // under autocast: libtorch 1.13's CPU autocast leaves gelu alone either way (versions that
  // listed it as float32 would differ here in fast mode).
  if (!c_.last) at::gelu_(z);
  return {z, y};
}

HybridStack::HybridStack(Weights& w, const HybridConfig& c, int64_t num_sources) {
  struct Spec {
    LayerConfig enc, dec, tenc, tdec;
    bool has_time;
  };
  std::vector<Spec> specs;
  int64_t chin = c.audio_channels, chin_z = c.cac ? 2 * chin : chin;
  int64_t chout = c.channels_time ? c.channels_time : c.channels, chout_z = c.channels;
  int64_t freqs = c.nfft / 2;
  int64_t emb_freqs = 0, emb_dim = 0;
  for (int64_t index = 0; index < c.depth; ++index) {
    LayerConfig kw;
    kw.norm = index >= c.norm_starts;
    kw.freq = freqs > 1;
    kw.kernel_size = c.kernel_size;
    kw.stride = c.stride;
    if (!kw.freq) {
      kw.kernel_size = c.time_stride * 2;
      kw.stride = c.time_stride;
    }
    bool last_freq = false;
    if (kw.freq && freqs <= c.kernel_size) {
      kw.kernel_size = freqs;
      kw.pad = false;
      last_freq = true;
    }
    kw.rewrite = c.rewrite;
    kw.norm_groups = c.norm_groups;
    kw.dconv_kw.depth = c.dconv_depth;
    kw.dconv_kw.compress = c.dconv_comp;
    kw.dconv_kw.lstm = index >= c.dconv_lstm;
    kw.dconv_kw.attn = index >= c.dconv_attn;
    LayerConfig kwt = kw;
    kwt.freq = false;
    kwt.kernel_size = c.kernel_size;
    kwt.stride = c.stride;
    kwt.pad = true;
    if (last_freq) {
      chout_z = std::max(chout, chout_z);
      chout = chout_z;
    }
    Spec s;
    s.has_time = c.hybrid && kw.freq;
    s.enc = kw;
    s.enc.chin = chin_z, s.enc.chout = chout_z, s.enc.dconv = c.dconv_mode & 1;
    s.enc.context = c.context_enc;
    s.tenc = kwt;
    s.tenc.chin = chin, s.tenc.chout = chout, s.tenc.dconv = c.dconv_mode & 1;
    s.tenc.context = c.context_enc, s.tenc.empty = last_freq;
    if (index == 0) {
      chin = c.audio_channels * num_sources;
      chin_z = c.cac ? 2 * chin : chin;
    }
    s.dec = kw;
    s.dec.chin = chout_z, s.dec.chout = chin_z, s.dec.dconv = c.dconv_mode & 2;
    s.dec.last = index == 0, s.dec.context = c.context;
    s.tdec = kwt;
    s.tdec.chin = chout, s.tdec.chout = chin, s.tdec.dconv = c.dconv_mode & 2;
    s.tdec.empty = last_freq, s.tdec.last = index == 0, s.tdec.context = c.context;
    specs.push_back(s);
    chin = chout;
    chin_z = chout_z;
    chout = static_cast<int64_t>(c.growth * chout);
    chout_z = static_cast<int64_t>(c.growth * chout_z);
    if (kw.freq) freqs = freqs <= c.kernel_size ? 1 : freqs / c.stride;
    if (index == 0 && c.freq_emb != 0) emb_freqs = freqs, emb_dim = chin_z;
  }
  bottom_channels_freq = chin_z;
  // The Python code inserts decoders at the front: decoder[k] is built at index depth-1-k.
  int64_t n_time = 0;
  for (const auto& s : specs) n_time += s.has_time;
  for (int64_t i = 0; i < c.depth; ++i) {
    const Spec& s = specs[i];
    encoder.emplace_back(w, "encoder." + std::to_string(i), s.enc);
    if (s.has_time) tencoder.emplace_back(w, "tencoder." + std::to_string(i), s.tenc);
  }
  for (int64_t k = 0; k < c.depth; ++k)
    decoder.emplace_back(w, "decoder." + std::to_string(k), specs[c.depth - 1 - k].dec);
  for (int64_t k = 0; k < n_time; ++k)
    tdecoder.emplace_back(w, "tdecoder." + std::to_string(k), specs[n_time - 1 - k].tdec);
  if (emb_freqs) {
    freq_emb = w.take("freq_emb.embedding.weight", {emb_freqs, emb_dim}) * c.emb_scale;
    freq_emb_scale = c.freq_emb;
  }
}

void HybridStack::encode(at::Tensor& x, at::Tensor& xt, std::vector<at::Tensor>& saved,
                         std::vector<at::Tensor>& saved_t, std::vector<int64_t>& lengths,
                         std::vector<int64_t>& lengths_t) const {
  for (size_t idx = 0; idx < encoder.size(); ++idx) {
    lengths.push_back(x.size(-1));
    std::optional<at::Tensor> inject;
    if (idx < tencoder.size()) {
      lengths_t.push_back(xt.size(-1));
      xt = tencoder[idx](xt);
      if (!tencoder[idx].empty())
        saved_t.push_back(xt);
      else
        inject = xt;
    }
    x = encoder[idx](x, inject);
    if (idx == 0 && freq_emb.defined()) {
      auto emb = freq_emb.slice(0, 0, x.size(-2)).t().unsqueeze(0).unsqueeze(-1).expand_as(x);
      x = x + freq_emb_scale * emb;
    }
    saved.push_back(x);
  }
}

void HybridStack::decode(at::Tensor& x, at::Tensor& xt, std::vector<at::Tensor>& saved,
                         std::vector<at::Tensor>& saved_t, std::vector<int64_t>& lengths,
                         std::vector<int64_t>& lengths_t, int64_t depth) const {
  for (int64_t idx = 0; idx < static_cast<int64_t>(decoder.size()); ++idx) {
    // Ours: inputs, skips and `pre` are moved along and dropped once used. Python keeps them
    // until the loop's next turn, which at the outer layers holds 95 MB past their use.
    auto skip = std::move(saved.back());
    saved.pop_back();
    int64_t length = lengths.back();
    lengths.pop_back();
    auto [out, pre] = decoder[idx](std::move(x), std::move(skip), length);
    x = std::move(out);
    int64_t offset = depth - static_cast<int64_t>(tdecoder.size());
    if (idx >= offset) {
      const HDecLayer& tdec = tdecoder[idx - offset];
      int64_t length_t = lengths_t.back();
      lengths_t.pop_back();
      if (tdec.empty()) {
        TORCH_CHECK(pre.size(2) == 1, "bottleneck frequency axis should be 1");
        xt = tdec(pre.select(2, 0), std::nullopt, length_t).first;
      } else {
        pre.reset();
        auto skip_t = std::move(saved_t.back());
        saved_t.pop_back();
        xt = tdec(std::move(xt), std::move(skip_t), length_t).first;
      }
    }
  }
}

SpecPadding spec_padding(bool hybrid, bool hybrid_old) {
  if (!hybrid) return SpecPadding::none;
  return hybrid_old ? SpecPadding::hybrid_old : SpecPadding::hybrid;
}

at::Tensor hybrid_spec(const at::Tensor& x, int64_t nfft, SpecPadding padding) {
  bool hybrid = padding != SpecPadding::none, hybrid_old = padding == SpecPadding::hybrid_old;
  int64_t hl = nfft / 4;
  int64_t le = 0;
  at::Tensor padded = x;
  if (hybrid) {
    le = (x.size(-1) + hl - 1) / hl;
    int64_t pad = hl / 2 * 3;
    padded = pad1d(x, pad, pad + le * hl - x.size(-1), !hybrid_old);
  }
  auto z = spectro(padded, nfft, hl);
  z = z.slice(-2, 0, z.size(-2) - 1);
  if (hybrid) {
    TORCH_CHECK(z.size(-1) == le + 4, "unexpected spectrogram length");
    z = z.slice(-1, 2, 2 + le);
  }
  return z;
}

at::Tensor hybrid_ispec(at::Tensor z, int64_t length, int64_t hl, SpecPadding padding) {
  bool hybrid_old = padding == SpecPadding::hybrid_old;
  if (padding == SpecPadding::none)
    return ispectro(at::constant_pad_nd(z, {0, 0, 0, 1}), hl, length);
  z = at::constant_pad_nd(z, {2, 2, 0, 1});  // both of the Python code's pads in one copy
  int64_t pad = hl / 2 * 3;
  int64_t le = hl * ((length + hl - 1) / hl) + (hybrid_old ? 0 : 2 * pad);
  auto x = ispectro(z, hl, le);
  return hybrid_old ? x.slice(-1, 0, length) : x.slice(-1, pad, pad + length);
}

at::Tensor cac_magnitude(const at::Tensor& z) {
  int64_t B = z.size(0), C = z.size(1), Fr = z.size(2), T = z.size(3);
  return at::view_as_real(z).permute({0, 1, 4, 2, 3}).reshape({B, C * 2, Fr, T});
}

at::Tensor cac_mask(const at::Tensor& m) {
  int64_t B = m.size(0), S = m.size(1), Fr = m.size(3), T = m.size(4);
  auto out = m.view({B, S, -1, 2, Fr, T}).permute({0, 1, 2, 4, 5, 3});
  return at::view_as_complex(out.contiguous());
}

HybridConfig read_hybrid_config(const Kwargs& k, HybridConfig d) {
  HybridConfig c;
  c.audio_channels = k.integer("audio_channels", d.audio_channels);
  c.channels = k.integer("channels", d.channels);
  c.channels_time = k.integer("channels_time", 0);
  c.growth = k.number("growth", d.growth);
  c.nfft = k.integer("nfft", d.nfft);
  c.depth = k.integer("depth", d.depth);
  c.kernel_size = k.integer("kernel_size", d.kernel_size);
  c.time_stride = k.integer("time_stride", d.time_stride);
  c.stride = k.integer("stride", d.stride);
  c.context = k.integer("context", d.context);
  c.context_enc = k.integer("context_enc", d.context_enc);
  c.norm_starts = k.integer("norm_starts", d.norm_starts);
  c.norm_groups = k.integer("norm_groups", d.norm_groups);
  c.dconv_mode = k.integer("dconv_mode", d.dconv_mode);
  c.dconv_depth = k.integer("dconv_depth", d.dconv_depth);
  c.dconv_comp = k.number("dconv_comp", d.dconv_comp);
  c.dconv_attn = k.integer("dconv_attn", d.dconv_attn);
  c.dconv_lstm = k.integer("dconv_lstm", d.dconv_lstm);
  c.cac = k.flag("cac", d.cac);
  c.rewrite = k.flag("rewrite", d.rewrite);
  c.hybrid = k.flag("hybrid", d.hybrid);
  c.hybrid_old = k.flag("hybrid_old", d.hybrid_old);
  c.freq_emb = k.number("freq_emb", d.freq_emb);
  c.emb_scale = k.number("emb_scale", d.emb_scale);
  if (!c.cac)
    throw ModelError("models without complex-as-channels (Wiener filtering) are not supported");
  auto multi = k.raw("multi_freqs");
  if (multi && !multi->is(pickle::Value::Kind::none) && !multi->items.empty())
    throw ModelError("models with multi_freqs (MultiWrap) are not supported");
  if (c.nfft / 4 * 4 != c.nfft) throw ModelError("nfft must be a multiple of 4");
  return c;
}

HDemucs::HDemucs(const Kwargs& k, Weights& w) {
  HybridConfig d;
  d.depth = 6;
  d.dconv_comp = 4;
  d.dconv_attn = 4;
  d.dconv_lstm = 4;
  c_ = read_hybrid_config(k, d);
  sources = k.strings("sources");
  samplerate = k.integer("samplerate", 44100);
  audio_channels = c_.audio_channels;
  segment = Rational::from(k.raw("segment"), {40, 1});
  if (k.integer("wiener_iters", 0) != 0) throw ModelError("Wiener filtering is not supported");
  stack_ = std::make_unique<HybridStack>(w, c_, static_cast<int64_t>(sources.size()));
}

at::Tensor HDemucs::forward(const at::Tensor& mix) const {
  int64_t length = mix.size(-1);
  // As in HTDemucs::forward, the complex spectrogram goes once its magnitude is made.
  auto x = cac_magnitude(hybrid_spec(mix, c_.nfft, spec_padding(c_.hybrid, c_.hybrid_old)));
  int64_t B = x.size(0), Fq = x.size(2), T = x.size(3);
  auto mean = x.mean({1, 2, 3}, true);
  auto std = x.std({1, 2, 3}, true, true);
  x = (x - mean) / (1e-5 + std);
  at::Tensor xt, meant, stdt;
  if (c_.hybrid) {
    meant = mix.mean({1, 2}, true);
    stdt = mix.std({1, 2}, true, true);
    xt = (mix - meant) / (1e-5 + stdt);
  }
  std::vector<at::Tensor> saved, saved_t;
  std::vector<int64_t> lengths, lengths_t;
  stack_->encode(x, xt, saved, saved_t, lengths, lengths_t);
  x = at::zeros_like(x);  // HDemucs decodes from the skips alone
  if (c_.hybrid) xt = at::zeros_like(x);
  stack_->decode(x, xt, saved, saved_t, lengths, lengths_t, c_.depth);
  int64_t S = static_cast<int64_t>(sources.size());
  x = x.view({B, S, -1, Fq, T}) * std.unsqueeze(1) + mean.unsqueeze(1);
  auto out = hybrid_ispec(cac_mask(x), length, c_.nfft / 4, spec_padding(c_.hybrid, c_.hybrid_old));
  if (c_.hybrid) out = (xt.view({B, S, -1, length}) * stdt.unsqueeze(1) + meant.unsqueeze(1)) + out;
  return out;
}

}  // namespace msaas::demucs
