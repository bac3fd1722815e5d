// demucs/hdemucs.h: the hybrid layers of demucs/hdemucs.py (pad1d, ScaledEmbedding, HEncLayer,
// HDecLayer), the spectrogram helpers both hybrid models share, and HDemucs (v3) itself.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "demucs/demucs.h"
#include "demucs/model.h"
#include "demucs/nn.h"

namespace msaas::demucs {

// F.pad that also reflects inputs shorter than the padding (extra zeros first), as pad1d does.
at::Tensor pad1d(const at::Tensor& x, int64_t left, int64_t right, bool reflect);

struct LayerConfig {
  int64_t chin = 0, chout = 0;
  int64_t kernel_size = 8, stride = 4, norm_groups = 1, context = 0;
  bool empty = false, freq = true, dconv = true, norm = true, pad = true, rewrite = true;
  bool last = false, context_freq = true;  // decoder only
  DConvConfig dconv_kw;
};

class HEncLayer {
 public:
  HEncLayer(Weights& w, const std::string& prefix, const LayerConfig& c);
  at::Tensor operator()(at::Tensor x, const std::optional<at::Tensor>& inject = {}) const;
  bool empty() const { return c_.empty; }

 private:
  LayerConfig c_;
  Conv conv_, rewrite_;
  GroupNorm norm1_, norm2_;
  std::optional<DConv> dconv_;
};

class HDecLayer {
 public:
  HDecLayer(Weights& w, const std::string& prefix, const LayerConfig& c);
  // Returns (output, pre-transposed-conv activations) like the Python forward. Takes x and skip
  // by value: moved in, they are freed as soon as they are summed (ours; see decode()).
  std::pair<at::Tensor, at::Tensor> operator()(at::Tensor x, std::optional<at::Tensor> skip,
                                               int64_t length) const;
  bool empty() const { return c_.empty; }

 private:
  LayerConfig c_;
  Conv conv_tr_, rewrite_;
  GroupNorm norm1_, norm2_;
  std::optional<DConv> dconv_;
  int64_t pad_ = 0;
};

// The constructor arguments both hybrid models share, with HTDemucs' defaults.
struct HybridConfig {
  int64_t audio_channels = 2, channels = 48, channels_time = 0, nfft = 4096, depth = 4;
  double growth = 2;
  int64_t kernel_size = 8, time_stride = 2, stride = 4, context = 1, context_enc = 0;
  int64_t norm_starts = 4, norm_groups = 4, dconv_mode = 1, dconv_depth = 2;
  double dconv_comp = 8;
  int64_t dconv_attn = 1 << 30, dconv_lstm = 1 << 30;  // HDemucs only
  bool cac = true, rewrite = true, hybrid = true, hybrid_old = false;
  double freq_emb = 0.2, emb_scale = 10;
};

// The encoder/decoder stacks of both branches, built exactly as the Python constructors loop.
struct HybridStack {
  std::vector<HEncLayer> encoder, tencoder;
  std::vector<HDecLayer> decoder, tdecoder;
  at::Tensor freq_emb;  // ScaledEmbedding weight, already multiplied by its scale
  double freq_emb_scale = 0;
  int64_t bottom_channels_freq = 0;  // channels entering the bottleneck

  HybridStack(Weights& w, const HybridConfig& c, int64_t num_sources);
  // Runs both encoders; fills the skips and lengths the decoders need.
  void encode(at::Tensor& x, at::Tensor& xt, std::vector<at::Tensor>& saved,
              std::vector<at::Tensor>& saved_t, std::vector<int64_t>& lengths,
              std::vector<int64_t>& lengths_t) const;
  void decode(at::Tensor& x, at::Tensor& xt, std::vector<at::Tensor>& saved,
              std::vector<at::Tensor>& saved_t, std::vector<int64_t>& lengths,
              std::vector<int64_t>& lengths_t, int64_t depth) const;
};

// _spec/_ispec/_magnitude/_mask of the hybrid models (cac only).
// How _spec pads the signal and _ispec trims it back (hdemucs.py): hybrid models pad so that the
// frames line up with the time branch; the first hybrid models (hybrid_old) pad without
// reflection and trim from the start; spectrogram-only models do neither.
enum class SpecPadding { none, hybrid, hybrid_old };
SpecPadding spec_padding(bool hybrid, bool hybrid_old);

at::Tensor hybrid_spec(const at::Tensor& x, int64_t nfft, SpecPadding padding);
at::Tensor hybrid_ispec(at::Tensor z, int64_t length, int64_t hop, SpecPadding padding);
at::Tensor cac_magnitude(const at::Tensor& z);
at::Tensor cac_mask(const at::Tensor& m);

HybridConfig read_hybrid_config(const Kwargs& k, HybridConfig defaults);

class HDemucs : public Model {
 public:
  HDemucs(const Kwargs& kwargs, Weights& weights);
  at::Tensor forward(const at::Tensor& mix) const override;
  std::string klass() const override { return "HDemucs"; }

 private:
  HybridConfig c_;
  std::unique_ptr<HybridStack> stack_;
};

}  // namespace msaas::demucs
