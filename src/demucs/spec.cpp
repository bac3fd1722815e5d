// demucs/spec.cpp: see spec.h.
#include "demucs/spec.h"

namespace msaas::demucs {

at::Tensor spectro(const at::Tensor& x, int64_t n_fft, int64_t hop_length) {
  auto shape = x.sizes().vec();
  int64_t length = shape.back();
  auto flat = x.reshape({-1, length});
  auto window = at::hann_window(n_fft, flat.options());
  auto z = at::stft(flat, n_fft, hop_length, n_fft, window, /*center=*/true, "reflect",
                    /*normalized=*/true, /*onesided=*/c10::nullopt, /*return_complex=*/true);
  shape.pop_back();
  shape.push_back(z.size(1));
  shape.push_back(z.size(2));
  return z.view(shape);
}

at::Tensor ispectro(const at::Tensor& z, int64_t hop_length, std::optional<int64_t> length) {
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

}  // namespace msaas::demucs
