// demucs/htdemucs.cpp: see htdemucs.h; HTDemucs.forward in inference mode.
#include "demucs/htdemucs.h"

#include "msaas/engine.h"

namespace msaas::demucs {

HTDemucs::HTDemucs(const Kwargs& k, Weights& w) {
  c_ = read_hybrid_config(k, HybridConfig{});  // HybridConfig's defaults are HTDemucs'
  if (k.has("hybrid") || k.has("dconv_lstm") || k.has("dconv_attn"))
    throw ModelError("HTDemucs checkpoint carries HDemucs-only arguments");
  sources = k.strings("sources");
  samplerate = k.integer("samplerate", 44100);
  audio_channels = c_.audio_channels;
  segment = Rational::from(k.raw("segment"), {10, 1});
  use_train_segment_ = k.flag("use_train_segment", true);
  if (k.integer("wiener_iters", 0) != 0) throw ModelError("Wiener filtering is not supported");
  stack_ = std::make_unique<HybridStack>(w, c_, static_cast<int64_t>(sources.size()));

  int64_t channels = c_.channels;
  for (int64_t i = 1; i < c_.depth; ++i) channels = static_cast<int64_t>(channels * c_.growth);
  bottom_channels_ = k.integer("bottom_channels", 0);
  if (bottom_channels_) {
    up_ = make_conv(w, "channel_upsampler", 1, channels, bottom_channels_, {1});
    down_ = make_conv(w, "channel_downsampler", 1, bottom_channels_, channels, {1});
    up_t_ = make_conv(w, "channel_upsampler_t", 1, channels, bottom_channels_, {1});
    down_t_ = make_conv(w, "channel_downsampler_t", 1, bottom_channels_, channels, {1});
    channels = bottom_channels_;
  }
  if (k.integer("t_layers", 5) > 0)
    transformer_.emplace(w, "crosstransformer", read_transformer_config(k, channels));
}

int64_t HTDemucs::valid_length(int64_t length) const {
  if (!use_train_segment_) return length;
  int64_t training_length = segment.samples(samplerate);
  if (training_length < length)
    throw ModelError("given length " + std::to_string(length) + " is longer than training length " +
                     std::to_string(training_length));
  return training_length;
}

at::Tensor HTDemucs::forward(const at::Tensor& input) const {
  at::Tensor mix = input;
  int64_t length = mix.size(-1);
  int64_t length_pre_pad = 0;
  int64_t training_length = segment.samples(samplerate);
  if (use_train_segment_ && length > training_length) valid_length(length);  // throws
  if (use_train_segment_ && length < training_length) {
    length_pre_pad = length;
    mix = at::constant_pad_nd(mix, {0, training_length - length});
  }
  // The complex spectrogram is not needed again: cac_mask() reads only x (ours: Python keeps z).
  auto x = cac_magnitude(hybrid_spec(mix, c_.nfft, SpecPadding::hybrid));
  int64_t B = x.size(0), Fq = x.size(2), T = x.size(3);
  auto mean = x.mean({1, 2, 3}, true);
  auto std = x.std({1, 2, 3}, true, true);
  x = (x - mean) / (1e-5 + std);
  auto meant = mix.mean({1, 2}, true);
  auto stdt = mix.std({1, 2}, true, true);
  auto xt = (mix - meant) / (1e-5 + stdt);

  std::vector<at::Tensor> saved, saved_t;
  std::vector<int64_t> lengths, lengths_t;
  stack_->encode(x, xt, saved, saved_t, lengths, lengths_t);
  if (transformer_) {
    int64_t b = x.size(0), f = x.size(2), t = x.size(3);
    if (bottom_channels_) {
      x = up_(x.reshape({b, -1, f * t})).view({b, -1, f, t});
      xt = up_t_(xt);
    }
    (*transformer_)(x, xt);
    if (bottom_channels_) {
      x = down_(x.reshape({b, -1, f * t})).view({b, -1, f, t});
      xt = down_t_(xt);
    }
  }
  stack_->decode(x, xt, saved, saved_t, lengths, lengths_t, c_.depth);

  int64_t S = static_cast<int64_t>(sources.size());
  // In place: x is the decoder's own output, and the spectrogram stage is the memory peak.
  x = x.view({B, S, -1, Fq, T});
  x.mul_(std.unsqueeze(1)).add_(mean.unsqueeze(1));
  int64_t out_length = use_train_segment_ ? training_length : length;
  auto masked = cac_mask(x);
  x.reset();
  auto spec_out = hybrid_ispec(std::move(masked), out_length, c_.nfft / 4, SpecPadding::hybrid);
  auto time_out = xt.view({B, S, -1, out_length}) * stdt.unsqueeze(1) + meant.unsqueeze(1);
  auto out = time_out + spec_out;
  if (length_pre_pad) out = out.slice(-1, 0, length_pre_pad);
  return out;
}

}  // namespace msaas::demucs
