// demucs/spec.h: STFT and inverse STFT as demucs/spec.py wraps them (hann window, normalized,
// centered with reflect padding).
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

// x: [..., T] real -> [..., n_fft / 2 + 1, frames] complex
at::Tensor spectro(const at::Tensor& x, int64_t n_fft, int64_t hop_length);
// z: [..., freqs, frames] complex -> [..., length] real
at::Tensor ispectro(const at::Tensor& z, int64_t hop_length, std::optional<int64_t> length);

}  // namespace msaas::demucs
