// demucs/spec.cpp: see spec.h.
#include "demucs/spec.h"

#include <ATen/Parallel.h>

#include <cstring>
#include <vector>

#include "demucs/parallel_items.h"

namespace msaas::demucs {

// On the CPU the signals (a stereo mixture's two channels) go in parallel, one whole STFT per
// thread: within one call ATen runs the FFTs (pocketfft) on the calling thread alone.
at::Tensor spectro(const at::Tensor& x, int64_t n_fft, int64_t hop_length) {
  auto shape = x.sizes().vec();
  int64_t length = shape.back();
  auto flat = x.reshape({-1, length});
  auto window = at::hann_window(n_fft, flat.options());
  auto stft = [&](const at::Tensor& signals) {
    return at::stft(signals, n_fft, hop_length, n_fft, window, /*center=*/true, "reflect",
                    /*normalized=*/true, /*onesided=*/c10::nullopt, /*return_complex=*/true);
  };
  at::Tensor z;
  int64_t signals = flat.size(0);
  if (!flat.is_cpu() || signals < 2) {
    z = stft(flat);
  } else {
    // ATen lays a spectrogram out as [signals, frames, bins] and returns it transposed; z is laid
    // out the same. Each signal's is copied in as raw memory: z is an inference tensor, which
    // the other threads (outside InferenceMode) may not update.
    int64_t frames = length / hop_length + 1, bins = n_fft / 2 + 1;  // center=True
    z = at::empty({signals, frames, bins},
                  flat.options().dtype(c10::toComplexType(flat.scalar_type())));
    int64_t bytes = z[0].nbytes();
    parallel_items<NoState>(signals, [&](NoState&, int64_t i) {
      auto one = stft(flat.narrow(0, i, 1)).transpose(1, 2).contiguous();
      TORCH_CHECK(static_cast<int64_t>(one.nbytes()) == bytes, "spectro: unexpected STFT shape");
      std::memcpy(static_cast<char*>(z.data_ptr()) + i * bytes, one.data_ptr(), bytes);
    });
    z = z.transpose(1, 2);
  }
  shape.pop_back();
  shape.push_back(z.size(1));
  shape.push_back(z.size(2));
  return z.view(shape);
}

namespace {

// torch.istft as the official code calls it (center=True, normalized, hann window).
at::Tensor torch_istft(const at::Tensor& z, int64_t hop_length, std::optional<int64_t> length) {
  auto shape = z.sizes().vec();
  int64_t frames = shape.back(), freqs = shape[shape.size() - 2];
  int64_t n_fft = 2 * freqs - 2;
  auto flat = z.reshape({-1, freqs, frames});
  auto window = at::hann_window(n_fft, at::TensorOptions().dtype(at::kFloat).device(z.device()));
  c10::optional<int64_t> len;
  if (length) len = *length;
  auto x = at::istft(flat, n_fft, hop_length, n_fft, window, /*center=*/true,
                     /*normalized=*/true, /*onesided=*/c10::nullopt, len,
                     /*return_complex=*/false);
  shape.pop_back();
  shape.back() = x.size(1);
  return x.view(shape);
}

}  // namespace

// The same sums as torch.istft on the CPU, where ATen's version spends most of its time in a
// single-threaded overlap-add and window envelope: here the signals go in parallel, each one's
// inverse FFTs in one call, its frames windowed and added straight into the output.
at::Tensor ispectro(const at::Tensor& z, int64_t hop_length, std::optional<int64_t> length) {
  if (!z.is_cpu()) return torch_istft(z, hop_length, length);
  auto shape = z.sizes().vec();
  int64_t frames = shape.back(), freqs = shape[shape.size() - 2];
  int64_t n_fft = 2 * freqs - 2;
  auto flat = z.reshape({-1, freqs, frames}).transpose(1, 2);  // [signals, frames, freqs]
  int64_t signals = flat.size(0);
  int64_t full = n_fft + hop_length * (frames - 1), start = n_fft / 2;
  int64_t out_length = length ? *length : full - n_fft;
  auto window = at::hann_window(n_fft, at::TensorOptions().dtype(at::kFloat)).contiguous();
  // The summed squared window under each output sample (the same for every signal).
  std::vector<float> envelope(full, 0.f);
  const float* w = window.data_ptr<float>();
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t i = 0; i < n_fft; ++i) envelope[f * hop_length + i] += w[i] * w[i];
  auto out = at::empty({signals, out_length}, at::kFloat);
  parallel_items<std::vector<float>>(signals, [&](std::vector<float>& sum, int64_t s) {
    // Inside the parallel loop ATen runs single-threaded: one signal's inverse FFTs per call.
    auto y = at::fft_irfft(flat[s], n_fft, -1, "ortho").contiguous();
    const float* frame = y.data_ptr<float>();
    sum.assign(full, 0.f);
    for (int64_t f = 0; f < frames; ++f, frame += n_fft) {
      float* dst = sum.data() + f * hop_length;
      for (int64_t i = 0; i < n_fft; ++i) dst[i] += frame[i] * w[i];
    }
    float* o = out[s].data_ptr<float>();
    for (int64_t t = 0; t < out_length; ++t) {
      int64_t j = start + t;
      o[t] = j < full ? sum[j] / envelope[j] : 0.f;  // torch.istft pads with zeros past the end
    }
  });
  shape.pop_back();
  shape.back() = out_length;
  return out.view(shape);
}

}  // namespace msaas::demucs
